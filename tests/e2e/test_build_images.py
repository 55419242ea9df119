"""scripts/build-images.sh: the asbd image is built offline, both archive formats are readable by
skopeo with the digests the script prints, and the image's entry point runs from the image's own
files alone (chroot into the unpacked rootfs as the manifests' user 65532)."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN_DIR, REPO


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip("SKIPPED LOUDLY: %s is not installed (scripts/install-deps.sh)" % tool)
    return path


def run(*cmd, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, "%s:\n%s\n%s" % (" ".join(cmd), r.stdout, r.stderr)
    return r.stdout


def test_asbd_image_builds_and_its_entrypoint_runs(tmp_path):
    need("umoci")
    need("skopeo")
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: chroot into the unpacked image needs root")
    out = tmp_path / "images"
    env = dict(os.environ, ASB_BIN_DIR=BIN_DIR, ASB_IMAGE_TAG="e2e")
    printed = run("bash", os.path.join(REPO, "scripts", "build-images.sh"), str(out), env=env)
    digests = dict((ref, d) for d, ref in re.findall(r"(?m)^(sha256:[0-9a-f]{64}) (\S+)$",
                                                     printed))
    oci = "oci-archive:%s" % (out / "asbd-oci.tar")
    docker = "docker-archive:%s" % (out / "asbd-docker.tar")
    assert set(digests) == {oci, docker}, printed
    for ref in (oci, docker):
        assert run("skopeo", "inspect", "--format", "{{.Digest}}", ref).strip() == digests[ref]
    config = json.loads(run("skopeo", "inspect", "--config", oci))["config"]
    assert config["Entrypoint"] == ["/usr/bin/asbd"]
    assert config["User"] == "65532:65532"
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
