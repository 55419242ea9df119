"""E2E, through a real registry (Debian's docker-registry) as a user's `docker push` leaves it:
- a multi-arch image index (arm64 listed first, then amd64) runs its linux/amd64 image;
- layers that try to write outside their root (`../`, a symlink to an absolute host path and a
  file through it, a hardlink out of the root) fail the pod with ErrImagePull naming the entry,
  write nothing outside, and leave nothing in the cache.
The unpacker's own cases are unit-tested (src/image/layer_unpack_test.cc); these check that the
pull path a pod takes refuses them too and reports it where a user looks (the pod's status)."""

import hashlib
import io
import json
import os
import tarfile

import pytest
from waiting import wait_for

from agentic_sandbox import SandboxClient
from oci_images import (require_tools, BUSYBOX_LINKS, Registry, apply, build_image, cache_dir,
                        explained, pod, run, template, waiting)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    require_tools()
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def _index_with_platforms(layout, name, refs_by_platform):
    """Adds to the layout an image index `name` listing the layout's images `refs_by_platform`
    ([(ref, os, architecture)], in that order), as `docker buildx --platform ...` makes one."""
    top_path = os.path.join(layout, "index.json")
    top = json.load(open(top_path))
    by_ref = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in top["manifests"]}
    entries = []
    for ref, os_name, arch in refs_by_platform:
        m = dict(by_ref[ref])
        m.pop("annotations", None)
        m["platform"] = {"os": os_name, "architecture": arch}
        entries.append(m)
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": entries}).encode()
    top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                             "digest": _blob(layout, body), "size": len(body),
                             "annotations": {"org.opencontainers.image.ref.name": name}})
    with open(top_path, "w") as f:
        json.dump(top, f)


def test_an_image_index_runs_its_linux_amd64_image(asbd, kubectl, registry, tmp_path):
    layout = str(tmp_path / "layout")
    base = dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n"})
    build_image(layout, "arm", dict(base, **{"/platform": "linux/arm64\n"}),
                ["--config.cmd", "sh", "--architecture", "arm64"])
    build_image(layout, "amd", dict(base, **{"/platform": "linux/amd64\n"}),
                ["--config.cmd", "sh"])
    _index_with_platforms(layout, "multi", [("arm", "linux", "arm64"), ("amd", "linux", "amd64")])
    image = registry.host + "/test/multi:1"
    run("skopeo", "copy", "--all", "--dest-tls-verify=false", "oci:%s:multi" % layout,
        "docker://" + image)
    raw = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false",
                         "docker://" + image).stdout)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["arm64", "amd64"], raw

    apply(kubectl, template("multi", image, "native"))
    with explained(kubectl, asbd), SandboxClient("multi", kubeconfig=asbd.kubeconfig,
                                                sandbox_ready_timeout=90) as sb:
        r = sb.run("cat /platform")
        assert r.stdout == "linux/amd64\n", (r.stdout, r.stderr)
    kubectl("delete", "sandboxtemplate", "multi")


def _hostile_image(layout, tag, entries):
    """An image of busybox plus one layer of raw tar `entries` [(TarInfo, bytes or None)]."""
    build_image(layout, tag, dict(BUSYBOX_LINKS), ["--config.cmd", "sh"])
    layer = "%s-%s-hostile.tar" % (layout, tag)
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    run("umoci", "raw", "add-layer", "--image", "%s:%s" % (layout, tag), layer)
    os.unlink(layer)


def _file(name, data=b"pwned\n"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("attack", ["dotdot", "absolute-symlink", "hardlink-out"])
def test_a_layer_writing_outside_its_root_fails_the_pod_and_writes_nothing(
        asbd, kubectl, registry, tmp_path, attack):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("keep\n")
    escaped = "asb-escaped-%s-%d" % (attack, os.getpid())
    entries = {
        # A path climbing out of the layer's root, as a careless or hostile `tar` leaves it.
        "dotdot": [_file("../../../../../../tmp/" + escaped)],
        # A symlink to a host directory, then a file written through it.
        "absolute-symlink": [_link("lnk", str(outside), tarfile.SYMTYPE),
                             _file("lnk/" + escaped)],
        # A hardlink to a file outside the root (which the unpacker would then share).
        "hardlink-out": [_link("hard", "../../../../../../" + str(outside / "target"),
                               tarfile.LNKTYPE)],
    }[attack]
    layout = str(tmp_path / "layout")
    _hostile_image(layout, "h", entries)
    image = registry.push(layout, "h", "test/hostile-%s:1" % attack)
    name = "hostile-" + attack
    apply(kubectl, pod(name, image, "native"))
    w = wait_for(lambda: waiting(kubectl, name).get("reason") in
                 ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, name),
                 "ErrImagePull for a layer escaping its root", timeout=60)
    assert "layer entry" in w["message"], w
    assert not os.path.exists("/tmp/" + escaped)
    assert not os.path.exists(str(outside / escaped))
    assert (outside / "target").read_text() == "keep\n"
    # Nothing half-made stays where the next pull would look.
    cache = cache_dir(asbd)
    assert os.listdir(os.path.join(cache, "tmp")) == [], os.listdir(os.path.join(cache, "tmp"))
    kubectl("delete", "pod", name, "--wait=true", timeout=60)
