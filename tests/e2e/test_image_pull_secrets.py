"""E2E: imagePullSecrets against a registry that requires a password.

Debian's docker-registry runs with htpasswd auth (a bcrypt entry made by `htpasswd -B`) on a
loopback port. A pod without a pull secret gets ErrImagePull carrying the registry's own 401; a
`kubectl create secret docker-registry` Secret (its `auth` field) lets the same pod pull; a
template whose podTemplate names a Secret written with `stringData` (username/password fields)
serves the seed's run() API from the pulled image. `kubectl get secrets` shows the type and the
number of keys, never a value.
"""

import json
import os

import pytest
from waiting import wait_for

from agentic_sandbox import SandboxClient
from oci_images import (require_tools, BUSYBOX_LINKS, Registry, apply, build_image, explained, get,
                        pod, template, waiting)

USER, PASSWORD = "agent", "s3cret-pull-password"


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory):
    require_tools("htpasswd")
    root = str(tmp_path_factory.mktemp("auth-registry"))
    reg = Registry(root, user=USER, password=PASSWORD)
    layout = os.path.join(root, "layout")
    build_image(layout, "agentless",
                dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n"}),
                ["--config.cmd", "sh"])
    reg.image = reg.push(layout, "agentless", "team/private:1")
    yield reg
    reg.stop()


def _pull_error(kubectl, name):
    return wait_for(lambda: waiting(kubectl, name).get("reason") in
                    ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, name),
                    "ErrImagePull for %s" % name, timeout=60)


def _succeeded(kubectl, name):
    return (get(kubectl, "pod", name).get("status") or {}).get("phase") == "Succeeded"


def test_a_pull_secret_opens_an_htpasswd_registry(asbd, kubectl, auth_registry):
    image = auth_registry.image
    # No secret: the registry's own 401 reaches the pod.
    apply(kubectl, pod("anon", image, "native", command=["/bin/sh", "-c", "true"]))
    w = _pull_error(kubectl, "anon")
    assert "401" in w["message"] and "UNAUTHORIZED" in w["message"], w
    assert auth_registry.host in w["message"], w

    # A wrong password is the registry's 401 too; a Secret that does not exist is named.
    kubectl("create", "secret", "docker-registry", "wrong", "-n", "default",
            "--docker-server=" + auth_registry.host, "--docker-username=" + USER,
            "--docker-password=not-it")
    bad = pod("wrong", image, "native", command=["/bin/sh", "-c", "true"])
    bad["spec"]["imagePullSecrets"] = [{"name": "absent"}, {"name": "wrong"}]
    apply(kubectl, bad)
    w = _pull_error(kubectl, "wrong")
    assert "401" in w["message"] and 'imagePullSecrets "absent" not found' in w["message"], w

    kubectl("create", "secret", "docker-registry", "regcred", "-n", "default",
            "--docker-server=" + auth_registry.host, "--docker-username=" + USER,
            "--docker-password=" + PASSWORD)
    ok = pod("authed", image, "native", command=["/bin/sh", "-c", "echo pulled"])
    ok["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    apply(kubectl, ok)
    with explained(kubectl, asbd):
        wait_for(lambda: _succeeded(kubectl, "authed"), "the authenticated pod to run",
                 timeout=120)
    assert kubectl("logs", "authed", "-n", "default").stdout.strip() == "pulled"

    # The table shows type and key count; no output of `get` shows the password in clear.
    table = kubectl("get", "secrets", "-n", "default").stdout
    row = [l.split() for l in table.splitlines() if l.startswith("regcred ")][0]
    assert row[1:3] == ["kubernetes.io/dockerconfigjson", "1"], table
    assert PASSWORD not in table
    stored = get(kubectl, "secret", "regcred")
    assert PASSWORD not in json.dumps(stored) and "stringData" not in stored


def test_a_template_pull_secret_from_string_data_serves_the_agent_api(asbd, kubectl,
                                                                      auth_registry):
    # username/password fields (no `auth`), written as stringData: stored base64 in data.
    doc = {"auths": {auth_registry.host: {"username": USER, "password": PASSWORD}}}
    apply(kubectl, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                    "metadata": {"name": "team-pull", "namespace": "default"},
                    "stringData": {".dockerconfigjson": json.dumps(doc)}})
    stored = get(kubectl, "secret", "team-pull")
    assert "stringData" not in stored and ".dockerconfigjson" in stored["data"], stored
    t = template("private", auth_registry.image, "native")
    t["spec"]["podTemplate"]["spec"]["imagePullSecrets"] = [{"name": "team-pull"}]
    apply(kubectl, t)
    with explained(kubectl, asbd), SandboxClient("private", kubeconfig=asbd.kubeconfig,
                                                 sandbox_ready_timeout=90) as sb:
        r = sb.run("sh -c 'echo from-the-private-image'")
        assert r.stdout.strip() == "from-the-private-image", (r.stdout, r.stderr)


def test_bad_secrets_are_refused_with_field_errors(asbd, kubectl):
    r = kubectl("create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "broken", "namespace": "default"},
        "data": {".dockerconfigjson": "bm90IGpzb24=", "bad/key": "!!"}}))
    assert r.returncode != 0
    assert "data[.dockerconfigjson]: Invalid value" in r.stderr, r.stderr
    assert "data[bad/key]: Invalid value: \"<secret contents redacted>\"" in r.stderr, r.stderr
