"""E2E: `asbctl image` against a real asbd, the disk budget, and registry mirrors.

Images are built from busybox-static with umoci and turned into every input `import` takes with
skopeo (offline: `skopeo copy oci:DIR:TAG docker-archive:FILE` / `oci-archive:FILE`). A pod of an
imported image runs with imagePullPolicy Never (an air-gapped node); while it runs, `rm` refuses
the image; `prune` removes what no pod uses. asbd restarted with `images.diskBudget` removes the
least recently used image no pod uses when an import goes over it, and asbd starting with a
cache over its budget collects it before it serves (keeping what pods use). With `registryMirrors`, a pod
naming a registry that does not exist is served by its mirror (a dead mirror first is skipped).
"""

import json
import os
import subprocess

import pytest
from waiting import wait_for

from oci_images import (BUSYBOX_LINKS, Registry, apply, build_image, cache_dir, explained,
                        free_port, get, pod, run)


def _asbctl(asbd, *args, check=True):
    binary = os.path.join(os.path.dirname(asbd.bin), "asbctl")
    if not os.access(binary, os.X_OK):
        pytest.fail("%s is not built" % binary)
    r = subprocess.run([binary, "--kubeconfig", asbd.kubeconfig] + list(args),
                       capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, "asbctl %s: %d\n%s%s" % (args, r.returncode, r.stdout, r.stderr)
    return r


def _images(asbd):
    return json.loads(_asbctl(asbd, "image", "ls", "-o", "json").stdout)


def _names(asbd):
    return {n for i in _images(asbd)["items"] for n in i["names"]}


def _layout(tmp_path, tag, marker):
    layout = str(tmp_path / ("layout-" + tag))
    build_image(layout, tag, dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n",
                                                     "/marker": marker + "\n"}),
                ["--config.cmd", "sh"])
    return layout


def _running(kubectl, name):
    return (get(kubectl, "pod", name).get("status") or {}).get("phase") == "Running"


def _sleeper(name, image):
    return pod(name, image, "native", command=["/bin/sh", "-c", "cat /marker; sleep 600"],
               imagePullPolicy="Never")


def _restart_with_config(asbd, tmp_path, config):
    path = str(tmp_path / "asbd.json")
    with open(path, "w") as f:
        json.dump(config, f)
    asbd.stop()
    asbd.extra_args = ["--config", path]
    asbd.start()


def test_import_ls_rm_prune(asbd, kubectl, tmp_path):
    layout = _layout(tmp_path, "1", "from-the-layout")
    docker = str(tmp_path / "image.docker.tar")
    oci = str(tmp_path / "image.oci.tar")
    run("skopeo", "copy", "oci:%s:1" % layout, "docker-archive:%s:registry.test/team/docker:1"
        % docker)
    run("skopeo", "copy", "oci:%s:1" % layout, "oci-archive:%s:1" % oci)

    out = _asbctl(asbd, "image", "import", layout, "--name", "registry.test/team/layout:1").stdout
    assert "imported registry.test/team/layout:1: sha256:" in out, out
    out = _asbctl(asbd, "image", "import", docker).stdout  # named by its RepoTags
    assert "imported registry.test/team/docker:1" in out, out
    # skopeo's oci-archive names the image by a bare tag: asbd asks for a name.
    r = _asbctl(asbd, "image", "import", oci, check=False)
    assert r.returncode == 1 and "--name" in r.stderr, r.stderr
    _asbctl(asbd, "image", "import", oci, "--name", "registry.test/team/oci:1")
    assert _names(asbd) == {"registry.test/team/layout:1", "registry.test/team/docker:1",
                            "registry.test/team/oci:1"}
    table = _asbctl(asbd, "image", "ls").stdout
    assert table.splitlines()[0].split() == ["NAME", "DIGEST", "SIZE", "LAST", "USED", "IN", "USE"]
    assert os.listdir(os.path.join(cache_dir(asbd), "tmp")) == [], "uploads left behind"

    # An air-gapped pod of the imported docker archive; while it runs the image is in use.
    apply(kubectl, _sleeper("user", "registry.test/team/docker:1"))
    with explained(kubectl, asbd):
        wait_for(lambda: _running(kubectl, "user"), "the imported image's pod", timeout=120)
    wait_for(lambda: "from-the-layout" in kubectl("logs", "user", "-n", "default").stdout,
             "the pod's output", timeout=30)
    used = {n: i["inUse"] for i in _images(asbd)["items"] for n in i["names"]}
    assert used["registry.test/team/docker:1"] and not used["registry.test/team/layout:1"], used
    r = _asbctl(asbd, "image", "rm", "registry.test/team/docker:1", check=False)
    assert r.returncode == 1 and "in use" in r.stderr, r.stderr

    out = _asbctl(asbd, "image", "prune").stdout
    assert _names(asbd) == {"registry.test/team/docker:1"}, out
    kubectl("delete", "pod", "user", "-n", "default", "--wait=true", timeout=120)
    _asbctl(asbd, "image", "rm", "registry.test/team/docker:1")
    assert _images(asbd)["items"] == []
    assert os.listdir(os.path.join(cache_dir(asbd), "layers")) == []
    r = _asbctl(asbd, "image", "rm", "registry.test/team/docker:1", check=False)
    assert r.returncode == 1 and "not in the cache" in r.stderr, r.stderr


def test_the_disk_budget_removes_the_least_recently_used_unused_image(asbd, kubectl, tmp_path):
    layouts = {t: _layout(tmp_path, t, "image-" + t) for t in ("a", "b", "c")}
    for t, layout in layouts.items():
        _asbctl(asbd, "image", "import", layout, "--name", "registry.test/gc/%s:1" % t)
    sizes = {n: i["sizeBytes"] for i in _images(asbd)["items"] for n in i["names"]}
    each = max(sizes.values())
    _asbctl(asbd, "image", "prune")
    # Room for two of them and a half: the third import goes over.
    _restart_with_config(asbd, tmp_path, {"images": {"diskBudget": int(each * 2.5)}})
    for t in ("a", "b"):
        _asbctl(asbd, "image", "import", layouts[t], "--name", "registry.test/gc/%s:1" % t)
    apply(kubectl, _sleeper("keeps-a", "registry.test/gc/a:1"))
    with explained(kubectl, asbd):
        wait_for(lambda: _running(kubectl, "keeps-a"), "the pod using a", timeout=120)
    # b is now the least recently used (a was used by the pod's start), and no pod uses it.
    _asbctl(asbd, "image", "import", layouts["c"], "--name", "registry.test/gc/c:1")
    listed = _images(asbd)
    assert {n for i in listed["items"] for n in i["names"]} == {
        "registry.test/gc/a:1", "registry.test/gc/c:1"}, listed
    assert listed["cacheBytes"] <= listed["diskBudgetBytes"], listed
    assert "removed for the disk budget" in asbd.log()


def test_asbd_starting_over_its_disk_budget_collects_before_serving(asbd, kubectl, tmp_path):
    # No budget yet: a is imported and used by a running pod, then b and c are imported, so a
    # is the least recently used image and b the least recently used one no pod uses.
    layouts = {t: _layout(tmp_path, t, "start-" + t) for t in ("a", "b", "c")}
    _asbctl(asbd, "image", "import", layouts["a"], "--name", "registry.test/start/a:1")
    apply(kubectl, _sleeper("keeps-a", "registry.test/start/a:1"))
    with explained(kubectl, asbd):
        wait_for(lambda: _running(kubectl, "keeps-a"), "the pod using a", timeout=120)
    for t in ("b", "c"):
        _asbctl(asbd, "image", "import", layouts[t], "--name", "registry.test/start/%s:1" % t)
    each = max(i["sizeBytes"] for i in _images(asbd)["items"])
    assert _images(asbd)["cacheBytes"] > int(each * 2.5)
    # Restarted with room for two and a half: collected down to 80% of it (two images) before
    # the API serves, the in-use a kept although it is the oldest.
    _restart_with_config(asbd, tmp_path, {"images": {"diskBudget": int(each * 2.5)}})
    listed = _images(asbd)
    assert {n for i in listed["items"] for n in i["names"]} == {
        "registry.test/start/a:1", "registry.test/start/c:1"}, listed
    assert listed["cacheBytes"] <= listed["diskBudgetBytes"], listed
    with open(asbd.log_path, errors="replace") as f:
        log = f.read()
    assert "cache over its disk budget at start-up" in log, log[-3000:]
    assert "start-up garbage collection done" in log and "removed=1" in log, log[-3000:]
    with explained(kubectl, asbd):
        wait_for(lambda: _running(kubectl, "keeps-a"), "the pod using a after the restart",
                 timeout=120)


def test_a_registry_mirror_serves_a_registry_that_does_not_exist(asbd, kubectl, tmp_path):
    (tmp_path / "mirror").mkdir()
    reg = Registry(str(tmp_path / "mirror"))
    try:
        layout = _layout(tmp_path, "m", "served-by-the-mirror")
        reg.push(layout, "m", "team/env:1")
        dead = "127.0.0.1:%d" % free_port()
        _restart_with_config(asbd, tmp_path, {"registryMirrors": {
            "origin.invalid:5000": [dead, reg.host]}})
        image = "origin.invalid:5000/team/env:1"
        apply(kubectl, pod("mirrored", image, "native", command=["/bin/sh", "-c", "cat /marker"]))
        with explained(kubectl, asbd):
            wait_for(lambda: (get(kubectl, "pod", "mirrored").get("status") or {}).get("phase")
                     == "Succeeded", "the mirrored pod to run", timeout=120)
        assert kubectl("logs", "mirrored", "-n", "default").stdout.strip() == \
            "served-by-the-mirror"
        assert image in _names(asbd)
        assert "mirror failed, trying the next" in asbd.log()
    finally:
        reg.stop()
