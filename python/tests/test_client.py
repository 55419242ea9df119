"""Unit tests of SandboxClient against the fake API server and router in conftest.py."""

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import CLAIMS, TOKEN, pending_claim, ready_claim, write_kubeconfig

from agentic_sandbox import (
    ExecutionResult,
    SandboxClaimFailedError,
    SandboxClient,
    SandboxConnectionError,
    SandboxError,
    SandboxNotReadyError,
    SandboxRequestError,
    SandboxTemplateNotFoundError,
    SandboxTimeoutError,
    SandboxUnauthorizedError,
    default_kubeconfig_path,
    wait_for_cleanup,
)


def test_claim_watch_run_and_delete(fake_api, fake_router, kubeconfig):
    with SandboxClient(template_name="python-runtime-template", kubeconfig=kubeconfig) as sb:
        result = sb.run("echo 'Hello from the sandboxed environment!'")
        assert isinstance(result, ExecutionResult)
        assert result.stdout == "Hello from the sandboxed environment!\n"
        assert result.exit_code == 0
        claim = sb.claim_name
        assert sb.sandbox_name == "sb-warm-1"

    # The claim body is exactly upstream's v1alpha1 shape.
    assert len(fake_api.created) == 1
    headers, body = fake_api.created[0]
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert body["apiVersion"] == "extensions.agents.x-k8s.io/v1alpha1"
    assert body["kind"] == "SandboxClaim"
    assert re.fullmatch(r"sandbox-claim-[0-9a-f]{8}", body["metadata"]["name"])
    assert body["metadata"]["name"] == claim
    assert body["spec"] == {"sandboxTemplateRef": {"name": "python-runtime-template"}}

    # One watch on the claim, opened while it was being created: from "now", with the claim's
    # current state first (no resourceVersion), so it cannot miss the Ready change.
    assert len(fake_api.watches) == 1
    q = fake_api.watches[0]
    assert q["watch"] == "true"
    assert q["fieldSelector"] == "metadata.name=" + claim
    assert "resourceVersion" not in q

    # Router requests carry the routing headers and the token.
    method, path, h = fake_router.requests[-1]
    assert (method, path) == ("POST", "/execute")
    assert h["X-Sandbox-ID"] == "sb-warm-1"
    assert h["X-Sandbox-Namespace"] == "default"
    assert h["X-Sandbox-Port"] == "8888"
    assert h["Authorization"] == "Bearer " + TOKEN

    assert wait_for_cleanup(10)
    assert fake_api.deleted == [claim]


def test_legacy_status_sandbox_Name_and_custom_port(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "ADDED", "object": pending_claim(name, 2)},
        {"type": "MODIFIED", "object": ready_claim(name, 3, sandbox="sb-cold", key="Name")},
    ]
    with SandboxClient("t", kubeconfig=kubeconfig, server_port=9000) as sb:
        assert sb.sandbox_name == "sb-cold"
        sb.run("echo x")
    h = fake_router.requests[-1][2]
    assert h["X-Sandbox-ID"] == "sb-cold"
    assert h["X-Sandbox-Port"] == "9000"


def test_files_roundtrip(fake_api, fake_router, kubeconfig):
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        sb.write("dir/hello.txt", "hi there")
        sb.write("blob.bin", bytes(range(256)) * 100)
        assert sb.read("dir/hello.txt") == b"hi there"
        assert sb.read("blob.bin") == bytes(range(256)) * 100
        assert sb.exists("dir/hello.txt") is True
        assert sb.exists("nope") is False
        entries = sb.list(".")
        assert [(e.name, e.type) for e in entries] == [("blob.bin", "file"), ("dir", "directory")]
        inner = sb.list("dir")
        assert [(e.name, e.size, e.type) for e in inner] == [("hello.txt", 8, "file")]
        with pytest.raises(SandboxRequestError) as ei:
            sb.read("missing.txt")
        assert ei.value.status_code == 404
        assert "File not found" in ei.value.body
    # The multipart filename is the destination path, the download path is URL-quoted.
    paths = [p for m, p, _ in fake_router.requests]
    assert "/download/dir/hello.txt" in paths
    assert fake_router.files["dir/hello.txt"] == b"hi there"


def test_keep_alive_one_router_connection(fake_api, fake_router, kubeconfig):
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        for i in range(10):
            assert sb.run("echo %d" % i).stdout == "%d\n" % i
    assert fake_router.connections == 1


def test_template_not_found_fails_fast_and_deletes_claim(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "MODIFIED", "object": pending_claim(
            name, 2, reason="TemplateNotFound",
            message='SandboxTemplate "nope" not found')},
        30.0,  # a slow server: the client must not wait for more
    ]
    start = time.monotonic()
    with pytest.raises(SandboxTemplateNotFoundError) as ei:
        with SandboxClient("nope", kubeconfig=kubeconfig, sandbox_ready_timeout=60):
            pass
    assert time.monotonic() - start < 5
    assert "TemplateNotFound" in str(ei.value) and "nope" in str(ei.value)
    assert fake_api.deleted == [fake_api.created[0][1]["metadata"]["name"]]


def test_other_terminal_reason(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "MODIFIED", "object": pending_claim(name, 2, reason="ClaimExpired")}]
    with pytest.raises(SandboxClaimFailedError) as ei:
        with SandboxClient("t", kubeconfig=kubeconfig):
            pass
    assert ei.value.reason == "ClaimExpired"


def test_ready_timeout(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "ADDED", "object": pending_claim(name, 2, message="pod is starting")}, 10.0]
    start = time.monotonic()
    with pytest.raises(SandboxTimeoutError) as ei:
        with SandboxClient("t", kubeconfig=kubeconfig, sandbox_ready_timeout=1):
            pass
    elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 5
    assert isinstance(ei.value, TimeoutError)
    assert "pod is starting" in str(ei.value)
    assert len(fake_api.deleted) == 1


def test_watch_resumes_from_last_resource_version(fake_api, fake_router, kubeconfig):
    calls = []

    def script(name, q):
        calls.append(q["resourceVersion"])
        if len(calls) == 1:
            return [{"type": "MODIFIED", "object": pending_claim(name, 5)}]  # then the stream ends
        return [{"type": "MODIFIED", "object": ready_claim(name, 6)}]

    fake_api.watch_script = script
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        assert sb.sandbox_name == "sb-warm-1"
    assert calls == ["1", "5"]


def test_watch_gone_relists_the_claim(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                     "message": "too old resource version"}}]
    fake_api.claim_status = 200

    # Fill claim_object once the name is known (on first GET).
    orig = fake_api.watch_script

    def script(name, q):
        fake_api.claim_object = ready_claim(name, 9, sandbox="sb-relisted")
        return orig(name, q)

    fake_api.watch_script = script
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        assert sb.sandbox_name == "sb-relisted"
    assert len(fake_api.gets) == 1


def test_claim_deleted_while_waiting(fake_api, fake_router, kubeconfig):
    fake_api.watch_script = lambda name, q: [
        {"type": "DELETED", "object": pending_claim(name, 3)}]
    with pytest.raises(SandboxClaimFailedError, match="deleted"):
        with SandboxClient("t", kubeconfig=kubeconfig):
            pass


def test_keyboard_interrupt_deletes_claim(fake_api, fake_router, kubeconfig):
    with pytest.raises(KeyboardInterrupt):
        with SandboxClient("t", kubeconfig=kubeconfig) as sb:
            name = sb.claim_name
            raise KeyboardInterrupt()
    assert wait_for_cleanup(10)
    assert fake_api.deleted == [name]


def test_exception_in_block_deletes_claim_and_propagates(fake_api, fake_router, kubeconfig):
    with pytest.raises(ValueError):
        with SandboxClient("t", kubeconfig=kubeconfig):
            raise ValueError("user bug")
    assert wait_for_cleanup(10)
    assert len(fake_api.deleted) == 1


def test_delete_404_is_ignored(fake_api, fake_router, kubeconfig):
    fake_api.delete_status = 404
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        sb.run("echo ok")
    assert wait_for_cleanup(10)
    assert len(fake_api.deleted) == 1


def test_exit_does_not_wait_for_the_delete(fake_api, fake_router, kubeconfig):
    """The with-block ends once the DELETE is sent; its answer is read in the background and
    wait_for_cleanup() (also run at exit) waits for it."""
    fake_api.delete_gate = threading.Event()
    try:
        with SandboxClient("t", kubeconfig=kubeconfig) as sb:
            claim = sb.claim_name
        # The server has the request but has not answered it: the block ended anyway.
        deadline = time.monotonic() + 10
        while not fake_api.deleted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake_api.deleted == [claim]
        assert not wait_for_cleanup(0.05)
    finally:
        fake_api.delete_gate.set()
    assert wait_for_cleanup(10)


def test_close_wait_returns_after_the_delete(fake_api, fake_router, kubeconfig):
    sb = SandboxClient("t", kubeconfig=kubeconfig).__enter__()
    claim = sb.claim_name
    sb.close(wait=True)
    assert fake_api.deleted == [claim]


def test_background_delete_failure_is_logged(fake_api, fake_router, kubeconfig, caplog):
    fake_api.delete_status = 500
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        claim = sb.claim_name
    assert wait_for_cleanup(10)
    assert any("could not delete SandboxClaim default/%s: HTTP 500" % claim in r.getMessage()
               for r in caplog.records), caplog.records


def test_background_delete_resent_after_a_stale_connection(fake_api, fake_router, kubeconfig):
    """The DELETE goes out on the kept-alive API connection; if the server had closed it while
    idle, the background thread sends it again on a new one."""
    fake_api.close_after_create = True
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        claim = sb.claim_name
        sock = sb._api._conn.sock
        assert select.select([sock], [], [], 10)[0]  # the server's FIN arrived
    assert wait_for_cleanup(10)
    assert fake_api.deleted == [claim]


def test_process_exit_waits_for_the_delete(fake_api, fake_router, kubeconfig):
    """A script whose last line is the with-block still deletes its claim: the process waits
    for the background DELETE at exit."""
    fake_api.delete_gate = threading.Event()
    timer = threading.Timer(0.3, fake_api.delete_gate.set)
    timer.start()
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    code = ("from agentic_sandbox import SandboxClient\n"
            "with SandboxClient('t', kubeconfig=%r) as sb:\n"
            "    print(sb.run('echo hi').stdout, end='')\n" % kubeconfig)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=src),
                         capture_output=True, text=True, timeout=30)
    timer.cancel()
    assert out.returncode == 0, out.stderr
    assert len(fake_api.deleted) == 1
    assert time.monotonic() - t0 >= 0.3  # it waited for the answer, not just the send


def _wait_for_spare_connections(fake_api, want=2):
    from agentic_sandbox import _http
    key = ("http", "127.0.0.1", int(fake_api.url.rsplit(":", 1)[1]), id(None))
    deadline = time.monotonic() + 10
    while len(_http._idle.get(key, ())) < want and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_http._idle.get(key, ())) >= want


def _no_thread(monkeypatch):
    from agentic_sandbox import client
    monkeypatch.setattr(client._Prepare, "start",
                        lambda self: pytest.fail("the watch was opened by a thread"))


def test_next_with_block_finds_connections_ready(fake_api, fake_router, kubeconfig,
                                                 monkeypatch):
    """After a with-block the background thread opens spare API connections, so the next
    block's create and watch need no new connection (nor a thread to hide its handshake)."""
    with SandboxClient("t", kubeconfig=kubeconfig):
        pass
    assert wait_for_cleanup(10)
    _wait_for_spare_connections(fake_api)
    # The first block opened two (create, watch; the watch's is closed), the thread one more.
    deadline = time.monotonic() + 10
    while fake_api.connections < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_api.connections == 3
    _no_thread(monkeypatch)
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        assert len(fake_api.watches) == 2 and len(fake_api.created) == 2
        assert fake_api.connections == 3
        assert "resourceVersion" not in fake_api.watches[1]  # from now: it cannot miss Ready
        assert sb.sandbox_name == "sb-warm-1"


def test_name_collision_watches_the_name_created(fake_api, fake_router, kubeconfig,
                                                 monkeypatch):
    """A 409 makes the client pick another name; the watch opened with the create (by a thread
    in the first block, on kept-alive connections in the next) watched the taken name, so the
    client watches the created claim from its create's resourceVersion instead."""
    for block in range(2):
        fake_api.create_conflicts = 1
        before = len(fake_api.watches)
        with SandboxClient("t", kubeconfig=kubeconfig) as sb:
            created = [b["metadata"]["name"] for _, b in fake_api.created[-2:]]
            assert sb.claim_name == created[1] != created[0]
            assert sb.sandbox_name == "sb-warm-1"
        assert wait_for_cleanup(10)
        first, second = fake_api.watches[before:]
        assert first["fieldSelector"] == "metadata.name=" + created[0]
        assert second["fieldSelector"] == "metadata.name=" + created[1]
        assert second["resourceVersion"] == "1"
        _wait_for_spare_connections(fake_api)
        _no_thread(monkeypatch)  # the second block sends its watch before its create


def _block_in_child(kubeconfig, out):
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        out.put(sb.run("echo child").stdout)
    out.put(wait_for_cleanup(10))


def test_forked_child_has_its_own_connections_and_background_thread(fake_api, fake_router,
                                                                    kubeconfig):
    """A child forked after the parent used the client (multiprocessing's default on Linux)
    opens its own connections and runs its own background DELETEs."""
    import multiprocessing
    with SandboxClient("t", kubeconfig=kubeconfig):
        pass  # the parent now has a background thread and pooled connections
    assert wait_for_cleanup(10)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_block_in_child, args=(kubeconfig, out))
    child.start()
    try:
        assert out.get(timeout=20) == "child\n"
        assert out.get(timeout=20) is True
    finally:
        child.join(20)
    assert child.exitcode == 0
    assert len(fake_api.deleted) == 2
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:  # the parent's connections still work
        assert sb.run("echo parent").stdout == "parent\n"
    assert wait_for_cleanup(10)


def test_trace_prints_each_request(fake_api, fake_router, kubeconfig):
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    code = ("from agentic_sandbox import SandboxClient\n"
            "with SandboxClient('t', kubeconfig=%r) as sb:\n"
            "    sb.run('echo hi')\n" % kubeconfig)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=src, ASB_CLIENT_TRACE="1"), timeout=30)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stderr.splitlines() if l.startswith("asb-client: ")]
    for want in ("API server POST %s -> 201 " % CLAIMS,
                 "API server GET %s (watch) -> 200 " % CLAIMS,
                 "router POST /execute -> 200 ", "API server DELETE %s/sandbox-claim-" % CLAIMS):
        assert any(want in l and " ms " in l for l in lines), (want, lines)


def test_api_unauthorized(fake_api, fake_router, tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", fake_api.url, fake_router.url, token="wrong")
    with pytest.raises(SandboxUnauthorizedError) as ei:
        with SandboxClient("t", kubeconfig=kc):
            pass
    assert "401" in str(ei.value) and str(kc) in str(ei.value)


def test_router_unauthorized(fake_api, fake_router, kubeconfig):
    fake_router.fail["/execute"] = (401, {"detail": "Missing or invalid bearer token."})
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        with pytest.raises(SandboxUnauthorizedError, match="router"):
            sb.run("echo x")


def test_request_error_carries_status_and_body(fake_api, fake_router, kubeconfig):
    fake_router.fail["/execute"] = (502, {"detail": "Could not connect to the backend sandbox: x"})
    with SandboxClient("t", kubeconfig=kubeconfig) as sb:
        with pytest.raises(SandboxRequestError) as ei:
            sb.run("echo x")
    assert ei.value.status_code == 502
    assert "Could not connect" in ei.value.body
    assert "Could not connect" in str(ei.value)


def test_create_rejected_is_request_error(fake_api, fake_router, kubeconfig):
    fake_api.create_status = 422
    with pytest.raises(SandboxRequestError) as ei:
        with SandboxClient("t", kubeconfig=kubeconfig):
            pass
    assert ei.value.status_code == 422
    assert fake_api.deleted == []  # nothing was created


def test_unreachable_api_names_url_and_kubeconfig(tmp_path, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kc = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:%d" % port)
    with pytest.raises(SandboxConnectionError) as ei:
        with SandboxClient("t", kubeconfig=kc):
            pass
    msg = str(ei.value)
    assert "127.0.0.1:%d" % port in msg and str(kc) in msg
    assert isinstance(ei.value, ConnectionError)


def test_missing_kubeconfig(tmp_path):
    with pytest.raises(SandboxConnectionError, match="not found at .*nope"):
        with SandboxClient("t", kubeconfig=str(tmp_path / "nope")):
            pass


def test_no_router_in_kubeconfig(fake_api, tmp_path, monkeypatch):
    monkeypatch.delenv("ASB_ROUTER_URL", raising=False)
    kc = write_kubeconfig(tmp_path / "kc", fake_api.url, router=None)
    with pytest.raises(SandboxConnectionError, match="no router"):
        with SandboxClient("t", kubeconfig=kc):
            pass
    assert len(fake_api.deleted) == 1  # the claim was given back


def test_router_url_argument_overrides(fake_api, fake_router, tmp_path):
    kc = write_kubeconfig(tmp_path / "kc", fake_api.url, router="http://127.0.0.1:1")
    with SandboxClient("t", kubeconfig=kc, router_url=fake_router.url) as sb:
        assert sb.is_ready()


def test_methods_outside_context():
    sb = SandboxClient("t")
    assert sb.is_ready() is False
    with pytest.raises(SandboxNotReadyError):
        sb.run("echo x")


def test_kubeconfig_location_precedence(tmp_path, monkeypatch):
    for var in ("ASB_KUBECONFIG", "ASB_STATE_DIR", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    import os
    if os.geteuid() == 0:
        assert default_kubeconfig_path() == "/var/lib/asb/kubeconfig"
    else:
        assert default_kubeconfig_path() == str(tmp_path / ".local/state/asb/kubeconfig")
    monkeypatch.setenv("ASB_STATE_DIR", "/srv/asb")
    assert default_kubeconfig_path() == "/srv/asb/kubeconfig"
    # kubectl's $KUBECONFIG beats the state dir: its first existing file, else its first entry.
    present = tmp_path / "present.json"
    present.write_text("{}")
    monkeypatch.setenv("KUBECONFIG", "/nope/a:%s" % present)
    assert default_kubeconfig_path() == str(present)
    monkeypatch.setenv("KUBECONFIG", "/nope/a:/nope/b")
    assert default_kubeconfig_path() == "/nope/a"
    monkeypatch.setenv("ASB_KUBECONFIG", "/etc/kc.json")
    assert default_kubeconfig_path() == "/etc/kc.json"
    assert default_kubeconfig_path("/x/kc") == "/x/kc"


def test_exception_hierarchy():
    for cls in (SandboxConnectionError, SandboxUnauthorizedError, SandboxTemplateNotFoundError,
                SandboxTimeoutError, SandboxRequestError, SandboxClaimFailedError):
        assert issubclass(cls, SandboxError)
        assert issubclass(cls, RuntimeError)
    assert issubclass(SandboxTimeoutError, TimeoutError)
