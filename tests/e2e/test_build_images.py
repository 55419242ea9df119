"""scripts/build-images.sh: the asbd image is built offline, both archive formats are readable by
skopeo with the digests the script prints, its entry point runs from the image's own files alone
(chroot into the unpacked rootfs as the manifests' user 65532), and the image pulled from a real
registry runs as a pod under asbd's own image support (the conversion webhook role, Ready by its
/readyz)."""

import json
import os
import re
import shutil
import subprocess

import pytest
from waiting import wait_for

from conftest import BIN_DIR, REPO
from test_oci_images import Registry


def need(tool):
    if not shutil.which(tool):
        pytest.fail("%s is not installed (scripts/install-deps.sh)" % tool)


def run(*cmd, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, "%s:\n%s\n%s" % (" ".join(cmd), r.stdout, r.stderr)
    return r.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    for tool in ("umoci", "skopeo"):
        need(tool)
    out = tmp_path_factory.mktemp("images")
    env = dict(os.environ, ASB_BIN_DIR=BIN_DIR, ASB_IMAGE_TAG="e2e")
    printed = run("bash", os.path.join(REPO, "scripts", "build-images.sh"), str(out), env=env)
    digests = dict((ref, d) for d, ref in re.findall(r"(?m)^(sha256:[0-9a-f]{64}) (\S+)$",
                                                     printed))
    return {"oci": "oci-archive:%s" % (out / "asbd-oci.tar"),
            "docker": "docker-archive:%s" % (out / "asbd-docker.tar"), "digests": digests}


def test_asbd_image_archives_and_entrypoint(image, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: chroot into the unpacked image needs root")
    oci, docker = image["oci"], image["docker"]
    assert set(image["digests"]) == {oci, docker}, image
    for ref in (oci, docker):
        assert run("skopeo", "inspect", "--format", "{{.Digest}}", ref).strip() == \
            image["digests"][ref]
    config = json.loads(run("skopeo", "inspect", "--config", oci))["config"]
    assert config["Entrypoint"] == ["/usr/bin/asbd"]
    assert config["User"] == "65532:65532"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8081/tcp", "9443/tcp"}
    assert config["Labels"]["org.opencontainers.image.version"] == "e2e"

    layout = tmp_path / "layout"
    run("skopeo", "copy", "--quiet", oci, "oci:%s:asbd" % layout)
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", "%s:asbd" % layout, str(bundle))
    rootfs = str(bundle / "rootfs")
    # Only the image's files: the dynamic loader and libraries must all be in it.
    inside = run("chroot", "--userspec=65532:65532", rootfs, "/usr/bin/asbd", "crds")
    assert inside == run(os.path.join(BIN_DIR, "asbd"), "crds")
    helps = run("chroot", "--userspec=65532:65532", rootfs, "/usr/bin/asbd",
                "conversion-webhook", "--help")
    assert "--tls-cert" in helps
    run("chroot", "--userspec=65532:65532", rootfs, "/usr/bin/asbctl", "--help")


def test_asbd_image_runs_as_a_pod_under_asbd(image, asbd, kubectl, tmp_path):
    need("docker-registry")
    reg = Registry(str(tmp_path))
    try:
        ref = "%s/asb/asbd:e2e" % reg.host
        run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", image["oci"],
            "docker://" + ref)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "webhook", "namespace": "default"},
               "spec": {"restartPolicy": "Never", "containers": [{
                   "name": "webhook", "image": ref,
                   "args": ["conversion-webhook", "--listen", "0.0.0.0:9443",
                            "--self-signed", "/tmp/certs"],
                   # The webhook's port also answers plain HTTP (apiserver/tls_front.h).
                   "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9443},
                                      "periodSeconds": 1}}]}}
        kubectl("apply", "-f", "-", input=json.dumps(pod))

        def ready():
            p = json.loads(kubectl("get", "pod", "webhook", "-o", "json").stdout)
            st = p.get("status") or {}
            if st.get("phase") in ("Failed", "Succeeded"):
                logs = kubectl("logs", "webhook", check=False)
                raise AssertionError("the pod ended: %s\nlogs: %s%s" % (
                    json.dumps(st.get("containerStatuses")), logs.stdout, logs.stderr))
            return any(c["type"] == "Ready" and c["status"] == "True"
                       for c in st.get("conditions") or [])
        wait_for(ready, "the asbd image's webhook to be Ready", timeout=120)
        status = json.loads(kubectl("get", "pod", "webhook", "-o", "json").stdout)["status"]
        assert status["containerStatuses"][0]["imageID"].endswith(
            run("skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + ref).strip())
        kubectl("delete", "pod", "webhook", "--wait=true", timeout=120)
    finally:
        reg.stop()
