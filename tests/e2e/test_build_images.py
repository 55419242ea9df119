"""scripts/build-images.sh: both images, asbd and asb-runtime.

- asbd: built offline, both archive formats are readable by skopeo with the digests the script
  prints, its entry point runs from the image's own files alone (chroot into the unpacked rootfs
  as the manifests' user 65532), and the image pulled from a real registry runs as a pod under
  asbd's own image support (the conversion webhook role, Ready by its /readyz).
- asb-runtime: Python, pip and a shell from Debian packages with asb-agent as its entry point;
  pulled from a real registry into a SandboxTemplate, the seed's client runs Python in it on both
  runtimes, through the image's own agent (it declares its port, so none is injected)."""

import json
import os
import re
import shutil
import subprocess

import pytest
from waiting import wait_for

from agentic_sandbox import SandboxClient
from conftest import BIN_DIR, REPO
from oci_images import apply, explained, template
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
    # The runtime image's .debs are kept across runs (a rebuild is then offline).
    env = dict(os.environ, ASB_BIN_DIR=BIN_DIR, ASB_IMAGE_TAG="e2e",
               ASB_DEB_CACHE=os.path.join(REPO, "build", "images", "debs"))
    printed = run("bash", os.path.join(REPO, "scripts", "build-images.sh"), str(out), env=env)
    digests = dict((ref, d) for d, ref in re.findall(r"(?m)^(sha256:[0-9a-f]{64}) (\S+)$",
                                                     printed))
    return {"oci": "oci-archive:%s" % (out / "asbd-oci.tar"),
            "docker": "docker-archive:%s" % (out / "asbd-docker.tar"),
            "runtime": "oci-archive:%s" % (out / "asb-runtime-oci.tar"),
            "runtime-docker": "docker-archive:%s" % (out / "asb-runtime-docker.tar"),
            "digests": digests}


def test_asbd_image_archives_and_entrypoint(image, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: chroot into the unpacked image needs root")
    oci, docker = image["oci"], image["docker"]
    assert set(image["digests"]) == {oci, docker, image["runtime"], image["runtime-docker"]}, image
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


def unpack(archive, tmp_path):
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    run("skopeo", "copy", "--quiet", archive, "oci:%s:x" % layout)
    run("umoci", "unpack", "--image", "%s:x" % layout, str(bundle))
    return str(bundle / "rootfs")


def test_runtime_image_is_python_and_the_agent_without_a_package_manager(image, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: chroot into the unpacked image needs root")
    for ref in (image["runtime"], image["runtime-docker"]):
        assert run("skopeo", "inspect", "--format", "{{.Digest}}", ref).strip() == \
            image["digests"][ref]
    config = json.loads(run("skopeo", "inspect", "--config", image["runtime"]))["config"]
    assert config["Entrypoint"] == ["/usr/bin/asb-agent", "--port=8888"]
    assert set(config["ExposedPorts"]) == {"8888/tcp"}
    assert config["WorkingDir"] == "/app"

    rootfs = unpack(image["runtime"], tmp_path)
    listed = dict(line.split(" ", 1) for line in
                  open(os.path.join(rootfs, "usr/share/asb/packages.txt")).read().splitlines())
    assert {"python3", "python3-pip", "bash", "coreutils", "libc6"} <= set(listed), listed
    assert not {"dpkg", "perl-base", "debconf", "apt"} & set(listed), listed
    # Python with the modules that need shared libraries, pip, and a shell with its tools.
    out = run("chroot", rootfs, "/usr/bin/python3", "-c",
              "import ssl, sqlite3, ctypes, lzma, bz2, readline, uuid; print(ssl.OPENSSL_VERSION)")
    assert out.startswith("OpenSSL 3"), out
    assert "python 3" in run("chroot", rootfs, "/usr/bin/python", "-m", "pip", "--version")
    assert run("chroot", rootfs, "/bin/sh", "-c",
               "which awk && echo hi | awk '{print toupper($0)}' | sed s/H/h/").split() == \
        ["/usr/bin/awk", "hI"]
    # The agent is the image's own, and starts from the image's files alone.
    assert "--port" in run("chroot", rootfs, "/usr/bin/asb-agent", "--help")


@pytest.fixture(scope="module")
def runtime_in_registry(image, tmp_path_factory):
    need("docker-registry")
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    ref = "%s/asb/asb-runtime:e2e" % reg.host
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", image["runtime"],
        "docker://" + ref)
    yield ref
    reg.stop()


@pytest.mark.parametrize("runtime", ["native", "gvisor"])
def test_runtime_image_serves_the_seed_client(runtime_in_registry, asbd, kubectl, runtime):
    name = "asb-runtime-" + runtime
    apply(kubectl, template(name, runtime_in_registry, runtime))
    with explained(kubectl, asbd), SandboxClient(name, kubeconfig=asbd.kubeconfig,
                                                sandbox_ready_timeout=120) as sb:
        r = sb.run("python3 -c 'import sys, ssl; print(sys.version_info[:2], ssl.OPENSSL_VERSION)'")
        assert r.exit_code == 0 and r.stdout.startswith("(3, 11) OpenSSL 3"), (r.stdout, r.stderr)
        # The agent answering is the image's own entry point: asbd runs an injected one
        # (/asb/bin/asb-agent) only in an image that declares no port.
        r = sb.run("sh -c 'tr \"\\\\0\" \" \" </proc/1/cmdline; echo; pwd; python -m pip --version'")
        lines = r.stdout.split("\n")
        assert lines[0].strip() == "/usr/bin/asb-agent --port=8888" and lines[1] == "/app", \
            (r.stdout, r.stderr)
        assert "python 3.11" in lines[2], (r.stdout, r.stderr)
        sb.write("hello.py", "print(sum(range(10)))")
        assert sb.run("python3 hello.py").stdout.strip() == "45"
    kubectl("delete", "sandboxtemplate", name)
