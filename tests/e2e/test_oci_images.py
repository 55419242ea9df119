"""E2E: any OCI image as a sandbox, pulled from a real registry, on both runtimes.

A real registry (Debian's docker-registry, the CNCF distribution registry) runs on a free loopback
port from a generated config in a temp dir; images are built here from busybox-static with umoci
and pushed with skopeo:
  - test/agentless:1  busybox with Cmd ["sh"] and no ExposedPorts: no server of its own, so asb
    injects asb-agent and the seed's run()/files API answers on 8888;
  - test/server:1     busybox httpd as its Entrypoint, ExposedPorts 8080, USER 1000: its own
    server, run as the image says.
A missing tag and a corrupted blob give the pod ErrImagePull / ImagePullBackOff with the
registry's own words and leave nothing in the cache; a second pod of a cached image downloads
nothing. The benchmark compares a cold pull of a ~100 MiB image with `skopeo copy` to a directory,
and a cached image's cold start with the built-in image's.
"""

import io
import json
import os
import re
import shutil
import tarfile
import time

import pytest
from waiting import wait_for

from agentic_sandbox import SandboxClient
from oci_images import (require_tools, BUSYBOX_LINKS, UID_CGI, Owned, Registry, Symlink, apply,
                        build_image, cache_dir, events, explained, free_port, get, pod, ready, run,
                        template, waiting)

RUNTIMES = ["native", "gvisor"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    require_tools()
    root = str(tmp_path_factory.mktemp("registry"))
    reg = Registry(root)
    layout = os.path.join(root, "layout")
    build_image(layout, "agentless", dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n"}),
           ["--config.cmd", "sh"])
    build_image(layout, "server",
           dict(BUSYBOX_LINKS, **{"/www/index.html": "served by the image's own entrypoint\n",
                                  "/www/cgi-bin/uid": (UID_CGI, 0o755),
                                  "/etc/passwd": "root:x:0:0::/:/bin/sh\nsrv:x:1000:1000::/:/bin/sh\n"}),
           ["--config.entrypoint", "/bin/busybox", "--config.entrypoint", "httpd",
            "--config.entrypoint", "-f", "--config.entrypoint", "-p",
            "--config.entrypoint", "8080", "--config.entrypoint", "-h",
            "--config.entrypoint", "/www", "--config.exposedports", "8080/tcp",
            "--config.user", "srv", "--config.workingdir", "/www"])
    reg.images = {
        "agentless": reg.push(layout, "agentless", "test/agentless:1"),
        "server": reg.push(layout, "server", "test/server:1"),
    }
    reg.layout = layout
    yield reg
    reg.stop()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_image_without_a_server_serves_the_agent_api(asbd, kubectl, registry, runtime):
    image = registry.images["agentless"]
    apply(kubectl, template("bb", image, runtime))
    with explained(kubectl, asbd), SandboxClient("bb", kubeconfig=asbd.kubeconfig,
                                            sandbox_ready_timeout=90) as sb:
        # run() splits like shlex (no shell), as upstream's server does.
        r = sb.run("sh -c 'echo from-$(cut -d: -f1 /etc/passwd); ls /bin/busybox'")
        assert r.stdout.split() == ["from-root", "/bin/busybox"], (r.stdout, r.stderr)
        sb.write("note.txt", "written through the injected agent")
        assert sb.read("note.txt") == b"written through the injected agent"
    pods = json.loads(kubectl("get", "pods", "-n", "default", "-o", "json").stdout)["items"]
    status = pods[0]["status"]["containerStatuses"][0] if pods else None
    if status:  # the claimed pod may already be gone; when it is not, it names the digest
        assert re.match(re.escape(image.rsplit(":", 1)[0]) + "@sha256:[0-9a-f]{64}$",
                        status["imageID"]), status


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_image_with_its_own_server_runs_its_entrypoint_as_its_user(asbd, kubectl, registry,
                                                                   runtime):
    # Ready only once the image's httpd (its Entrypoint) runs a CGI that finds itself running
    # as the image's USER.
    apply(kubectl, pod("srv", registry.images["server"], runtime,
                         readinessProbe={"httpGet": {"path": "/cgi-bin/uid", "port": 8080},
                                         "periodSeconds": 1}))
    with explained(kubectl, asbd):
        wait_for(lambda: ready(kubectl, "srv"), "the image's httpd to be Ready", timeout=120)
    reasons = [r for r, _ in events(kubectl, "srv")]
    assert "Pulled" in reasons and "Started" in reasons, reasons


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_kubectl_exec_into_an_image_that_is_its_own_server(asbd, kubectl, registry, runtime):
    # As with a kubelet, exec runs the command in the container whatever its process is: the
    # image's own httpd (ExposedPorts), and a container whose `command` is its process.
    probe = {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1}
    apply(kubectl, pod("own", registry.images["server"], runtime, readinessProbe=probe))
    apply(kubectl, pod("cmd", registry.images["agentless"], runtime,
                       command=["/bin/sh", "-c", "echo started; exec sleep 3600"]))
    with explained(kubectl, asbd):
        wait_for(lambda: ready(kubectl, "own"), "the image's httpd to be Ready", timeout=120)
        wait_for(lambda: (get(kubectl, "pod", "cmd").get("status") or {}).get("phase") ==
                 "Running", "the command pod to run", timeout=120)
    r = kubectl("exec", "own", "-n", "default", "--", "/bin/sh", "-c",
                "id -u; cat /www/index.html", check=False)
    assert r.returncode == 0 and r.stdout.split("\n")[:2] == [
        "1000", "served by the image's own entrypoint"], (r.returncode, r.stdout, r.stderr)
    r = kubectl("exec", "cmd", "-n", "default", "--", "/bin/sh", "-c", "echo in-cmd; exit 3",
                check=False)
    assert r.returncode == 3 and r.stdout.strip() == "in-cmd", (r.returncode, r.stdout,
                                                                r.stderr)
    # The pod's log is the process's alone, and the router's run() reaches the same agent.
    assert kubectl("logs", "cmd", "-n", "default").stdout == "started\n"
    apply(kubectl, template("own-tpl", registry.images["server"], runtime, port=8080,
                            path="/index.html"))
    with explained(kubectl, asbd), SandboxClient("own-tpl", kubeconfig=asbd.kubeconfig,
                                            sandbox_ready_timeout=90) as sb:
        r = sb.run("cat /www/index.html")
        assert r.stdout == "served by the image's own entrypoint\n", (r.stdout, r.stderr)


def test_missing_tag_is_err_image_pull_with_the_registrys_message(asbd, kubectl, registry):
    image = registry.host + "/test/agentless:no-such-tag"
    apply(kubectl, pod("missing", image, "native"))
    w = wait_for(lambda: waiting(kubectl, "missing").get("reason") in
                 ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, "missing"),
                 "ErrImagePull", timeout=60)
    assert "MANIFEST_UNKNOWN" in w["message"] and "no-such-tag" in w["message"], w
    w = wait_for(lambda: waiting(kubectl, "missing").get("reason") == "ImagePullBackOff" and
                 waiting(kubectl, "missing"), "ImagePullBackOff", timeout=60)
    assert "Back-off pulling image" in w["message"] and "MANIFEST_UNKNOWN" in w["message"], w
    assert get(kubectl, "pod", "missing")["status"]["phase"] == "Pending"

    # An unreachable registry is told apart from a missing image.
    dead = "127.0.0.1:%d/test/agentless:1" % free_port()
    apply(kubectl, pod("unreachable", dead, "native"))
    w = wait_for(lambda: waiting(kubectl, "unreachable").get("reason") in
                 ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, "unreachable"),
                 "ErrImagePull for an unreachable registry", timeout=60)
    assert "connecting to" in w["message"] and "refused" in w["message"], w


def test_corrupted_blob_is_refused_and_leaves_nothing(asbd, kubectl, registry, tmp_path):
    # A fresh image whose one layer blob is then overwritten in the registry's storage.
    layout = str(tmp_path / "layout")
    build_image(layout, "c", dict(BUSYBOX_LINKS, **{"/corrupt-me": "x" * 4096}), ["--config.cmd", "sh"])
    image = registry.push(layout, "c", "test/corrupt:1")
    manifest = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw",
                               "docker://" + image).stdout)
    layer = manifest["layers"][-1]["digest"]
    blob = registry.blob_path(layer)
    with open(blob, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xff  # same size, wrong bytes
        f.seek(0)
        f.write(bytes(data))
    apply(kubectl, pod("corrupt", image, "native"))
    w = wait_for(lambda: waiting(kubectl, "corrupt").get("reason") in
                 ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, "corrupt"),
                 "ErrImagePull for a corrupted blob", timeout=60)
    assert "digest mismatch" in w["message"] and layer in w["message"], w
    cache = cache_dir(asbd)
    assert not os.path.exists(os.path.join(cache, "layers", layer.split(":")[1]))
    assert os.listdir(os.path.join(cache, "tmp")) == []


def test_a_working_dir_through_an_image_symlink_stays_inside_the_sandbox(asbd, kubectl, registry,
                                                                          tmp_path):
    # The image's /app is an absolute link to /etc. The native runtime makes the pod's
    # workingDir before pivot_root; following the link there would create the directory in the
    # host's /etc. It must refuse instead, and say why.
    layout = str(tmp_path / "layout")
    build_image(layout, "link", dict(BUSYBOX_LINKS, **{"/app": Symlink("/etc")}),
           ["--config.cmd", "sh"])
    image = registry.push(layout, "link", "test/link:1")
    leaf = "asb-escape-%d" % os.getpid()
    apply(kubectl, pod("link", image, "native", command=["/bin/sh", "-c", "true"],
                         workingDir="/app/" + leaf))

    def refused():
        pod = get(kubectl, "pod", "link")
        said = json.dumps(pod.get("status") or {}) + json.dumps(events(kubectl, "link"))
        return "is not followed" in said and said

    said = wait_for(refused, "the pod to say the image's symlink is not followed", timeout=60)
    assert "/app/" + leaf in said, said
    assert not os.path.exists("/etc/" + leaf)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_second_pod_of_a_cached_image_downloads_nothing(asbd, kubectl, registry, runtime):
    image = registry.images["server"]
    probe = {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1}
    apply(kubectl, pod("first", image, runtime, readinessProbe=probe))
    wait_for(lambda: ready(kubectl, "first"), "the first pod to be Ready", timeout=120)
    first = dict(events(kubectl, "first"))
    assert first.get("Pulled", "").startswith('Successfully pulled image "%s" in ' % image), first
    layers = os.path.join(cache_dir(asbd), "layers")
    before = {d: os.stat(os.path.join(layers, d)).st_ino for d in os.listdir(layers)}
    apply(kubectl, pod("second", image, runtime, readinessProbe=probe))
    wait_for(lambda: ready(kubectl, "second"), "the second pod to be Ready", timeout=120)
    second = dict(events(kubectl, "second"))
    assert second.get("Pulled") == 'Container image "%s" already present on machine' % image, \
        second
    assert "Pulling" not in second, second
    after = {d: os.stat(os.path.join(layers, d)).st_ino for d in os.listdir(layers)}
    assert after == before, "the cached layers were unpacked again"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_zstd_layers_whiteouts_and_opaque_dirs(asbd, kubectl, registry, tmp_path, runtime):
    # A lower layer with /etc/gone, /dir/old and /keep; an upper one whiting out /etc/gone and
    # making /dir opaque (only /dir/new shows). Pushed with every layer recompressed as zstd.
    layout = str(tmp_path / "layout")
    build_image(layout, "wh", dict(BUSYBOX_LINKS, **{"/etc/gone": "x\n", "/dir/old": "old\n",
                                                     "/keep": "kept\n"}), [])
    upper = str(tmp_path / "upper.tar")
    with tarfile.open(upper, "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in (("etc/.wh.gone", b""), ("dir/.wh..wh..opq", b""),
                           ("dir/new", b"new\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    run("umoci", "raw", "add-layer", "--image", "%s:wh" % layout, upper)
    run("umoci", "config", "--image", "%s:wh" % layout, "--config.cmd", "sh")
    image = "%s/test/zstd-%s:1" % (registry.host, runtime)
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-compress-format", "zstd",
        "oci:%s:wh" % layout, "docker://" + image)
    manifest = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw",
                              "docker://" + image).stdout)
    types = [l["mediaType"] for l in manifest["layers"]]
    assert len(types) == 2 and all(t.endswith("+zstd") for t in types), types
    apply(kubectl, pod("wh", image, runtime, command=[
        "/bin/sh", "-c", "test -e /etc/gone && echo gone-is-there; ls /dir; cat /keep"]))
    with explained(kubectl, asbd):
        wait_for(lambda: (get(kubectl, "pod", "wh").get("status") or {}).get("phase") in
                 ("Succeeded", "Failed"), "the whiteout pod to finish", timeout=120)
    out = kubectl("logs", "wh", "-n", "default").stdout.split()
    assert out == ["new", "kept"], out


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_image_files_keep_their_owners_and_modes(asbd, kubectl, registry, tmp_path, runtime):
    # A USER 1000 image whose home is 1000:1000 in the layer. The tar names the owner "daemon"
    # (the host's daemon is uid 1): owners go by number, never by the host's names. The setuid
    # bit of a root-owned file stays on disk (it grants nothing: nosuid, no_new_privs).
    layout = str(tmp_path / "layout")
    files = dict(BUSYBOX_LINKS, **{
        "/bin/stat": None,
        "/etc/passwd": "root:x:0:0::/:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\n",
        "/home/agent": Owned(1000, 1000, 0o755, uname="daemon"),
        "/home/agent/.profile": Owned(1000, 1000, 0o600, "export FROM=profile\n", "daemon"),
        "/bin/suid-marker": Owned(0, 0, 0o4755, "#!/bin/sh\n"),
    })
    build_image(layout, "owned", files, ["--config.user", "1000:1000", "--config.cmd", "sh"])
    image = registry.push(layout, "owned", "test/owned-%s:1" % runtime)
    script = ("id -u; id -g; echo mine > /home/agent/new && cat /home/agent/new; "
              "cat /home/agent/.profile; "
              "stat -c '%u:%g %a' /home/agent /home/agent/.profile /home/agent/new "
              "/bin/suid-marker /bin/busybox")
    apply(kubectl, pod("owned", image, runtime, command=["/bin/sh", "-c", script]))
    with explained(kubectl, asbd):
        wait_for(lambda: (get(kubectl, "pod", "owned").get("status") or {}).get("phase") in
                 ("Succeeded", "Failed"), "the ownership pod to finish", timeout=120)
    out = kubectl("logs", "owned", "-n", "default").stdout.splitlines()
    assert out == ["1000", "1000", "mine", "export FROM=profile", "1000:1000 755",
                   "1000:1000 600", "1000:1000 644", "0:0 4755", "0:0 755"], out
    assert get(kubectl, "pod", "owned")["status"]["phase"] == "Succeeded"


def _pod_ready_seconds(kubectl, name, obj):
    start = time.monotonic()
    apply(kubectl, obj)
    wait_for(lambda: ready(kubectl, name), "%s to be Ready" % name, timeout=180, interval=0.01)
    return time.monotonic() - start


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_benchmark_cold_pull_and_cached_start(asbd, kubectl, registry, tmp_path, runtime):
    # ~100 MiB of incompressible data in one layer.
    layout = str(tmp_path / "layout")
    build_image(layout, "big", dict(BUSYBOX_LINKS, **{"/data/blob": os.urandom(100 << 20)}),
           ["--config.cmd", "sh"])
    image = registry.push(layout, "big", "test/big-%s:1" % runtime)
    start = time.monotonic()
    run("skopeo", "copy", "--src-tls-verify=false", "docker://" + image,
         "dir:" + str(tmp_path / "skopeo-dir"))
    skopeo_s = time.monotonic() - start

    probe = {"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1}
    cold_s = _pod_ready_seconds(kubectl, "big-cold", pod("big-cold", image, runtime,
                                                          readinessProbe=probe))
    pulled = dict(events(kubectl, "big-cold"))["Pulled"]
    pull_s = float(re.search(r" in ([0-9.]+)s\.", pulled).group(1))
    cached_s = _pod_ready_seconds(kubectl, "big-cached", pod("big-cached", image, runtime,
                                                              readinessProbe=probe))
    builtin_s = _pod_ready_seconds(kubectl, "builtin", pod(
        "builtin", "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0", runtime,
        readinessProbe=probe))
    print("\n[%s] ~100 MiB image: asb cold pull %.2fs (pod Ready %.2fs) vs skopeo copy to dir "
          "%.2fs (%.2fx); cached image pod Ready %.3fs vs built-in image %.3fs (%.2fx)"
          % (runtime, pull_s, cold_s, skopeo_s, pull_s / skopeo_s, cached_s, builtin_s,
             cached_s / builtin_s))
    shutil.rmtree(layout, ignore_errors=True)  # 200 MiB the next runs need not keep
    shutil.rmtree(str(tmp_path / "skopeo-dir"), ignore_errors=True)
    # Loose bounds (a shared 2-core machine): the figures go to the README, these catch a
    # pathological regression (a pull many times skopeo's, a cached start that pulls again).
    assert pull_s < 4 * skopeo_s + 2, (pull_s, skopeo_s)
    assert cached_s < 3 * builtin_s + 1, (cached_s, builtin_s)
