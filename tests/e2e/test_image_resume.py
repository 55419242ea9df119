"""E2E: a layer download that breaks mid-body resumes where it stopped (Range: bytes=N-).

A real registry (Debian's docker-registry) holds an image with one ~24 MiB layer of random
data; asbd pulls it through oci_images.Forwarder, which here breaks the blob's connections:
  - cut once / three times after K body bytes: the pod runs, the bytes carried across the
    forwarder stay well under twice the blob (each resume asks only for the rest: no restart
    from byte 0), and the registry's access log shows the ranged requests answered 206;
  - a registry that ignores Range (the forwarder strips Range and If-Range, so the registry
    answers 200 with the whole blob): the pull drops the bytes it has and still completes;
  - the registry redirects blobs to "storage" (a 307 to another path on the forwarder, as
    registries redirect to presigned URLs): the resumed request follows it with its Range;
  - resumed bytes corrupted in transit: the pod fails on the blob's digest and the cache
    keeps nothing of the layer;
  - a blob whose every connection breaks: the pull gives up after its bounded attempts and
    the pod says ErrImagePull naming the blob and the last error.
"""

import hashlib
import json
import os
import shutil

import pytest
from waiting import wait_for

from oci_images import (require_tools, BUSYBOX_LINKS, Forwarder, Registry, apply, build_image,
                        cache_dir, explained, get, pod, run, waiting)

DATA_BYTES = 24 << 20
CUT_AFTER = 5 << 20  # body bytes a cut connection carries (by default)


@pytest.fixture(scope="module")
def big_image(tmp_path_factory):
    require_tools()
    root = str(tmp_path_factory.mktemp("resume-registry"))
    reg = Registry(root)
    layout = os.path.join(root, "layout")
    data = os.urandom(DATA_BYTES)
    build_image(layout, "big", dict(BUSYBOX_LINKS, **{"/bin/sha256sum": None, "/data": data}),
                ["--config.cmd", "sh"])
    reg.image_path = "test/big:1"
    reg.push(layout, "big", reg.image_path)
    shutil.rmtree(layout)
    manifest = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw",
                              "docker://%s/%s" % (reg.host, reg.image_path)).stdout)
    reg.layer = manifest["layers"][-1]
    reg.blob_target = "/v2/test/big/blobs/" + reg.layer["digest"]
    reg.data_sha = hashlib.sha256(data).hexdigest()
    yield reg
    reg.stop()


class BreakingForwarder(Forwarder):
    """Breaks the connections of one blob: the first `cuts` of them (every one with
    cuts=None) after CUT_AFTER body bytes. With `strip_range` the registry never sees Range
    (so it answers 200 with the whole blob); with `corrupt_resumed` one byte of every ranged
    reply's body is flipped; with `redirect` the blob's URL answers 307 to /storage/<digest>,
    which the forwarder serves from the registry's blob (where the cuts then happen)."""

    def __init__(self, reg, cuts=1, strip_range=False, corrupt_resumed=False, redirect=False,
                 cut_after=CUT_AFTER):
        self.reg, self.cuts, self.cut_after = reg, cuts, cut_after
        self.strip_range, self.corrupt_resumed, self.redirect = (strip_range, corrupt_resumed,
                                                                 redirect)
        self.carried = 0  # reply bytes of the blob passed to asbd, headers included
        self.requests = []  # the blob's request heads as asbd sent them
        self.redirects = 0
        super().__init__(reg.port)

    def request(self, head):
        line = head.split(b"\r\n", 1)[0].decode()
        target = line.split()[1] if len(line.split()) > 1 else ""
        storage = "/storage/" + self.reg.layer["digest"]
        if self.redirect and target == self.reg.blob_target:
            self.redirects += 1
            return None, ("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://%s%s\r\n"
                          "Content-Length: 0\r\nConnection: close\r\n\r\n"
                          % (self.host, storage)).encode()
        if target not in (self.reg.blob_target, storage):
            return head, None
        self.requests.append(head.decode())
        if target == storage:
            head = head.replace(storage.encode(), self.reg.blob_target.encode(), 1)
        if self.strip_range:
            lines = head.split(b"\r\n")
            head = b"\r\n".join(l for l in lines
                                if not l.lower().startswith((b"range:", b"if-range:")))
        return head, None

    def reply(self, state, data):
        if self.reg.layer["digest"] not in state["line"]:
            return data
        if "body" not in state:  # the reply's head is still arriving
            state["head"] = state.get("head", b"") + data
            if b"\r\n\r\n" not in state["head"]:
                self.carried += len(data)
                return data
            head, _, data = state.pop("head").partition(b"\r\n\r\n")
            state["body"] = 0
            state["ranged"] = b" 206 " in head.split(b"\r\n", 1)[0]
            state["cut"] = self.cuts is None or self.cuts > 0
            if state["cut"] and self.cuts is not None:
                self.cuts -= 1
            self.carried += len(head) + 4
            if not data:
                return head + b"\r\n\r\n"
            return head + b"\r\n\r\n" + self._body(state, data)
        return self._body(state, data)

    def _body(self, state, data):
        if state["cut"] and state["body"] >= self.cut_after:
            return None
        if state["cut"]:
            data = data[:self.cut_after - state["body"]]
        if self.corrupt_resumed and state["ranged"] and state["body"] == 0 and data:
            data = bytes([data[0] ^ 0xff]) + data[1:]
        state["body"] += len(data)
        self.carried += len(data)
        return data


def _pod(name, reg, fwd):
    return pod(name, "%s/%s" % (fwd.host, reg.image_path), "native",
               command=["/bin/sh", "-c", "sha256sum /data"], imagePullPolicy="Always")


def _runs_with_the_right_bytes(kubectl, asbd, name, reg):
    with explained(kubectl, asbd):
        wait_for(lambda: (get(kubectl, "pod", name).get("status") or {}).get("phase") in
                 ("Succeeded", "Failed"), "pod %s to finish" % name, timeout=180)
    out = kubectl("logs", name, "-n", "default").stdout.split()
    assert out[:1] == [reg.data_sha], out
    assert get(kubectl, "pod", name)["status"]["phase"] == "Succeeded"


def _registry_log(reg):
    with open(os.path.join(reg.root, "registry.log")) as f:
        return [l for l in f if '"GET %s HTTP/1.1"' % reg.blob_target in l]


def _pull_error(kubectl, name):
    return wait_for(lambda: waiting(kubectl, name).get("reason") in
                    ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, name),
                    "ErrImagePull for %s" % name, timeout=120)


def _nothing_left(kubectl, asbd, name, reg):
    kubectl("delete", "pod", name, "-n", "default", "--wait=false")
    tmp = os.path.join(cache_dir(asbd), "tmp")
    wait_for(lambda: not os.path.exists(tmp) or os.listdir(tmp) == [],
             "the cache's tmp to empty", timeout=60)
    layer = os.path.join(cache_dir(asbd), "layers", reg.layer["digest"].split(":")[1])
    assert not os.path.exists(layer)


@pytest.mark.parametrize("cuts", [1, 3])
def test_a_cut_blob_resumes_where_it_stopped(asbd, kubectl, big_image, cuts):
    reg = big_image
    before = len(_registry_log(reg))
    fwd = BreakingForwarder(reg, cuts=cuts)
    try:
        apply(kubectl, _pod("cut", reg, fwd))
        _runs_with_the_right_bytes(kubectl, asbd, "cut", reg)
    finally:
        fwd.stop()
    size = reg.layer["size"]
    assert size > (cuts + 1) * CUT_AFTER  # every cut happened mid-body
    # Each resume asked for the rest only: about one blob crossed the wire, never two.
    assert fwd.carried < 1.1 * size, (fwd.carried, size)
    ranges = [h for h in fwd.requests if "\r\nRange: bytes=" in h]
    assert [h.split("\r\nRange: bytes=")[1].split("\r\n")[0] for h in ranges] == \
        ["%d-" % (CUT_AFTER * i) for i in range(1, cuts + 1)], fwd.requests
    assert all('\r\nIf-Range: "%s"' % reg.layer["digest"] in h for h in ranges), ranges
    log = _registry_log(reg)[before:]
    assert sum(' 206 ' in l for l in log) == cuts and sum(' 200 ' in l for l in log) == 1, log


def test_a_registry_that_ignores_range_still_pulls(asbd, kubectl, big_image):
    reg = big_image
    before = len(_registry_log(reg))
    fwd = BreakingForwarder(reg, cuts=1, strip_range=True)
    try:
        apply(kubectl, _pod("norange", reg, fwd))
        _runs_with_the_right_bytes(kubectl, asbd, "norange", reg)
    finally:
        fwd.stop()
    # The whole blob twice less what the cut kept from arriving: the first K bytes dropped.
    assert fwd.carried < reg.layer["size"] + CUT_AFTER + 65536, fwd.carried
    log = _registry_log(reg)[before:]
    assert sum(' 200 ' in l for l in log) == 2 and not any(' 206 ' in l for l in log), log


def test_a_resumed_download_follows_the_redirect_with_its_range(asbd, kubectl, big_image):
    reg = big_image
    before = len(_registry_log(reg))
    fwd = BreakingForwarder(reg, cuts=2, redirect=True)
    try:
        apply(kubectl, _pod("redirected", reg, fwd))
        _runs_with_the_right_bytes(kubectl, asbd, "redirected", reg)
    finally:
        fwd.stop()
    assert fwd.redirects == 3, fwd.redirects
    assert [h.split()[1].startswith("/storage/") for h in fwd.requests] == [True] * 3
    assert sum("\r\nRange: bytes=" in h for h in fwd.requests) == 2, fwd.requests
    assert fwd.carried < 1.1 * reg.layer["size"], fwd.carried
    log = _registry_log(reg)[before:]
    assert sum(' 206 ' in l for l in log) == 2, log


def test_corrupted_resumed_bytes_fail_on_the_digest_and_leave_nothing(asbd, kubectl,
                                                                       big_image):
    reg = big_image
    # Every connection is cut, so every pull resumes (and completes: 24 MiB in five 5 MiB
    # pieces), and every resumed range starts with a flipped byte.
    fwd = BreakingForwarder(reg, cuts=None, corrupt_resumed=True)
    try:
        apply(kubectl, _pod("corrupt", reg, fwd))
        w = _pull_error(kubectl, "corrupt")
        assert "digest mismatch" in w["message"] and reg.layer["digest"] in w["message"], w
        _nothing_left(kubectl, asbd, "corrupt", reg)
    finally:
        fwd.stop()


def test_a_blob_that_keeps_breaking_ends_in_err_image_pull(asbd, kubectl, big_image):
    reg = big_image
    # 1 MiB per connection: ten attempts carry 10 of the blob's 24 MiB.
    fwd = BreakingForwarder(reg, cuts=None, cut_after=1 << 20)
    try:
        apply(kubectl, _pod("broken", reg, fwd))
        w = _pull_error(kubectl, "broken")
        assert reg.layer["digest"] in w["message"] and "gave up after 10 attempts" in \
            w["message"], w
        assert "closed" in w["message"] and "bytes early" in w["message"], w
        _nothing_left(kubectl, asbd, "broken", reg)
    finally:
        fwd.stop()
