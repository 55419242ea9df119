"""E2E: real kubectl against a real `asbd serve` (tests/e2e/conftest.py)."""

import json
import os
import subprocess

from conftest import REPO
from waiting import wait_for

SEED = os.path.join(REPO, "examples", "seed", "sandbox-template-and-pool.yaml")
POOL = "sandboxwarmpool.extensions.agents.x-k8s.io/python-sandbox-warmpool"
TEMPLATE = "sandboxtemplate.extensions.agents.x-k8s.io/python-runtime-template"


def test_apply_get_scale_delete(asbd, kubectl):
    r = kubectl("apply", "-f", SEED)
    assert TEMPLATE + " created" in r.stdout
    assert POOL + " created" in r.stdout
    r = kubectl("apply", "-f", SEED)
    assert TEMPLATE + " unchanged" in r.stdout
    assert POOL + " unchanged" in r.stdout

    r = kubectl("get", "sandboxtemplates")
    assert "python-runtime-template" in r.stdout
    pool = json.loads(kubectl("get", "swp", "python-sandbox-warmpool", "-o", "json").stdout)
    assert pool["spec"]["replicas"] == 2
    assert pool["spec"]["sandboxTemplateRef"]["name"] == "python-runtime-template"
    assert pool["metadata"]["uid"] and pool["metadata"]["resourceVersion"]

    r = kubectl("scale", "swp", "python-sandbox-warmpool", "--replicas=3")
    assert "scaled" in r.stdout
    r = kubectl("get", "swp", "python-sandbox-warmpool", "-o", "jsonpath={.spec.replicas}")
    assert r.stdout.strip() == "3"
    r = kubectl("get", "swp")
    header = r.stdout.splitlines()[0].split()
    assert header[:3] == ["NAME", "READY", "DESIRED"], r.stdout

    r = kubectl("delete", "-f", SEED)
    assert "deleted" in r.stdout
    r = kubectl("get", "sandboxtemplates,swp", "-o", "name")
    assert r.stdout.strip() == ""


def test_get_watch_sees_change_from_another_command(asbd, kubectl):
    kubectl("apply", "-f", SEED)
    cmd = [kubectl.path, "--kubeconfig", asbd.kubeconfig, "--cache-dir", str(kubectl.cache),
           "get", "swp", "-w", "-o", "jsonpath={.metadata.name}={.spec.replicas}{\"\\n\"}"]
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = watcher.stdout.readline()
        assert first.strip() == "python-sandbox-warmpool=2", first
        kubectl("scale", "swp", "python-sandbox-warmpool", "--replicas=5")
        changed = watcher.stdout.readline()
        assert changed.strip() == "python-sandbox-warmpool=5", changed
    finally:
        watcher.kill()
        watcher.wait()


def test_bad_manifests_are_refused_with_the_field(asbd, kubectl, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("""apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxWarmPool
metadata:
  name: bad
spec:
  replicas: -1
  sandboxTemplateRef:
    name: x
""")
    r = kubectl("apply", "-f", str(bad), check=False)
    assert r.returncode != 0
    assert "spec.replicas" in r.stderr and "greater than or equal to 0" in r.stderr, r.stderr

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(bad.read_text().replace("replicas: -1", "replicas: 1\n  foo: bar"))
    r = kubectl("apply", "-f", str(unknown), check=False)
    assert r.returncode != 0
    assert 'unknown field "spec.foo"' in r.stderr, r.stderr

    no_image = tmp_path / "noimage.yaml"
    no_image.write_text("""apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxTemplate
metadata:
  name: t
spec:
  podTemplate:
    spec:
      containers:
      - name: main
""")
    r = kubectl("apply", "-f", str(no_image), check=False)
    assert r.returncode != 0
    assert "spec.podTemplate.spec.containers[0].image" in r.stderr, r.stderr
    # Nothing was stored.
    r = kubectl("get", "swp,sandboxtemplates", "-o", "name")
    assert r.stdout.strip() == ""


def test_unauthenticated_requests_get_401(asbd):
    status, body = asbd.request("GET", "/api/v1/namespaces", token=False)
    assert status == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
    status, body = asbd.request("GET", "/api/v1/namespaces")
    assert status == 200
    assert {"default"} <= {n["metadata"]["name"] for n in body["items"]}


def test_kill9_and_restart_keeps_objects_and_credentials(asbd, kubectl):
    kubectl("apply", "-f", SEED)
    kubectl("scale", "swp", "python-sandbox-warmpool", "--replicas=4")
    token = asbd.token
    asbd.kill9()
    asbd.start()
    assert asbd.token == token
    r = kubectl("get", "swp", "python-sandbox-warmpool", "-o", "jsonpath={.spec.replicas}")
    assert r.stdout.strip() == "4"
    r = kubectl("apply", "-f", SEED)
    assert TEMPLATE + " unchanged" in r.stdout


def test_pod_apply_uses_strategic_merge(asbd, kubectl, tmp_path):
    pod = tmp_path / "pod.yaml"
    manifest = """apiVersion: v1
kind: Pod
metadata:
  name: p1
  labels: {app: demo}
spec:
  containers:
  - name: a
    image: busybox
    env: [{name: X, value: "1"}]
  - name: b
    image: busybox
"""
    pod.write_text(manifest)
    assert "pod/p1 created" in kubectl("apply", "-f", str(pod)).stdout
    # Images are mutable: the strategic merge keeps both containers and their order.
    pod.write_text(manifest.replace("image: busybox\n    env", "image: busybox:2\n    env"))
    assert "pod/p1 configured" in kubectl("apply", "-f", str(pod)).stdout
    got = json.loads(kubectl("get", "pod", "p1", "-o", "json").stdout)
    names = [c["name"] for c in got["spec"]["containers"]]
    assert names == ["a", "b"]
    assert got["spec"]["containers"][0]["image"] == "busybox:2"
    # Anything else in a pod's spec is fixed, as in Kubernetes.
    pod.write_text(manifest.replace('value: "1"', 'value: "2"'))
    r = kubectl("apply", "-f", str(pod), check=False)
    assert r.returncode != 0
    assert "pod updates may not change fields other than" in r.stderr, r.stderr
    wait_for(lambda: "p1" in kubectl("get", "pods").stdout, what="pod listed")


def test_get_pages_past_the_first_chunk(asbd, kubectl, tmp_path):
    # kubectl get asks for Tables in chunks (500 by default) and follows metadata.continue.
    docs = []
    for i in range(30):
        docs.append("""apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxTemplate
metadata:
  name: t-%02d
spec:
  podTemplate:
    spec:
      containers:
      - name: main
        image: python-runtime
""" % i)
    manifest = tmp_path / "templates.yaml"
    manifest.write_text("---\n".join(docs))
    kubectl("apply", "-f", str(manifest))
    r = kubectl("get", "sandboxtemplates", "--chunk-size=1", "--no-headers")
    assert sorted(line.split()[0] for line in r.stdout.splitlines()) == \
        ["t-%02d" % i for i in range(30)], r.stdout
    kubectl("delete", "-f", str(manifest))


def test_asbctl_apply_get_delete(asbd, tmp_path):
    asbctl = os.path.join(os.path.dirname(asbd.bin), "asbctl")
    if not os.access(asbctl, os.X_OK):
        import pytest
        pytest.skip("SKIPPED LOUDLY: %s is not built" % asbctl)

    def run(*args, input=None):
        return subprocess.run([asbctl, "--kubeconfig", asbd.kubeconfig] + list(args),
                              capture_output=True, text=True, input=input, timeout=30)

    r = run("apply", "-f", SEED)
    assert r.returncode == 0, r.stderr
    assert TEMPLATE + " created" in r.stdout
    assert TEMPLATE + " unchanged" in run("apply", "-f", SEED).stdout
    with open(SEED) as f:
        changed = f.read().replace("replicas: 2", "replicas: 6")
    r = run("apply", "-f", "-", input=changed)
    assert POOL + " configured" in r.stdout, r.stdout + r.stderr
    r = run("get", "swp")
    assert r.stdout.split()[:3] == ["NAME", "READY", "DESIRED"]
    assert "python-sandbox-warmpool" in r.stdout and " 6 " in r.stdout
    got = json.loads(run("get", "swp", "python-sandbox-warmpool", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 6
    r = run("get", "sandbox", "nope")
    assert r.returncode == 1 and "NotFound" in r.stderr
    assert run("get").returncode == 2
    r = run("delete", "-f", SEED)
    assert r.returncode == 0 and r.stdout.count("deleted") == 2
