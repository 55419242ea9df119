"""The client against the real C++ router (router_static_server from the build tree) in front
of a fake python-runtime server: checks interop the fakes alone can't (header stripping,
keep-alive through the proxy, multipart and large bodies through the relay)."""

import glob
import os
import socket
import statistics
import subprocess
import threading
import time

import pytest

from conftest import TOKEN, FakeRouter, write_kubeconfig

from agentic_sandbox import (SandboxClient, SandboxRequestError, SandboxTimeoutError,
                             SandboxUnauthorizedError)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _router_binary():
    env = os.environ.get("ASB_ROUTER_STATIC_SERVER")
    if env:
        return env
    found = glob.glob(os.path.join(REPO, "build*", "bin", "router_static_server"))
    return max(found, key=os.path.getmtime) if found else None


@pytest.fixture
def runtime():
    r = FakeRouter(require_token=False)
    yield r
    r.stop()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def late_port():
    """A port routed as default/sb-late on which nothing listens until a test starts a runtime."""
    return _free_port()


@pytest.fixture
def real_router(runtime, late_port):
    binary = _router_binary()
    if not binary:
        pytest.skip("SKIPPED LOUDLY: router_static_server is not built (make router_static_server"
                    " in a build dir under the repo, or set ASB_ROUTER_STATIC_SERVER)")
    port = runtime.server.server_address[1]
    proc = subprocess.Popen(
        [binary, "--token", TOKEN, "--route", "default/sb-warm-1=127.0.0.1:%d" % port,
         "--route", "default/sb-late=127.0.0.1:%d" % late_port],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("listening http://"), line
    yield line.split()[1]
    proc.stdin.close()  # the server exits when stdin closes
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def kc(tmp_path, fake_api, real_router, monkeypatch):
    for var in ("ASB_KUBECONFIG", "ASB_STATE_DIR", "ASB_ROUTER_URL"):
        monkeypatch.delenv(var, raising=False)
    return write_kubeconfig(tmp_path / "kubeconfig", fake_api.url, real_router)


def test_run_and_files_through_real_router(kc, runtime):
    big = os.urandom(20 * 1024 * 1024)
    with SandboxClient("python-runtime-template", kubeconfig=kc) as sb:
        assert sb.run("echo 'Hello from the sandboxed environment!'").stdout == \
            "Hello from the sandboxed environment!\n"
        sb.write("data/big.bin", big)
        assert sb.read("data/big.bin") == big
        assert sb.exists("data/big.bin")
        with pytest.raises(SandboxRequestError) as ei:
            sb.read("missing")
        assert ei.value.status_code == 404
    for method, path, headers in runtime.requests:
        # Security: the router never hands the caller's token to the sandbox.
        assert "Authorization" not in headers, (method, path)
        assert headers["X-Sandbox-ID"] == "sb-warm-1"
        assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_keep_alive_through_router_and_latency(kc, runtime):
    with SandboxClient("python-runtime-template", kubeconfig=kc) as sb:
        times = []
        for i in range(200):
            t0 = time.perf_counter()
            assert sb.run("echo %d" % i).stdout == "%d\n" % i
            times.append((time.perf_counter() - t0) * 1e6)
    # One client connection to the router, and the router kept one upstream connection.
    assert runtime.connections == 1
    times.sort()
    print("run() via real router + python fake runtime: p50 %.0f us, p99 %.0f us"
          % (statistics.median(times), times[int(len(times) * 0.99) - 1]))


def test_wrong_token_is_401_from_router(tmp_path, fake_api, real_router, monkeypatch):
    monkeypatch.delenv("ASB_ROUTER_URL", raising=False)
    kc = write_kubeconfig(tmp_path / "kc", fake_api.url, real_router)
    with SandboxClient("t", kubeconfig=kc) as sb:
        sb._router.token = "wrong"
        with pytest.raises(SandboxUnauthorizedError):
            sb.run("echo x")


def test_unknown_sandbox_is_404_from_router(kc, fake_api):
    from conftest import ready_claim
    fake_api.watch_script = lambda name, q: [
        {"type": "MODIFIED", "object": ready_claim(name, 2, sandbox="not-routed")}]
    # A 404 from the router is not "not listening yet": the first request reports it at once.
    with SandboxClient("t", kubeconfig=kc, port_forward_ready_timeout=30) as sb:
        t0 = time.monotonic()
        with pytest.raises(SandboxRequestError) as ei:
            sb.run("echo hi")
        assert time.monotonic() - t0 < 5
    assert ei.value.status_code == 404
    assert "not-routed" in str(ei.value)


def test_first_request_waits_for_a_runtime_not_listening_yet(kc, fake_api, late_port):
    """No readiness round trip after Ready: the first run() itself is sent again while the
    router says it could not connect (Retry-After), and reaches the runtime exactly once."""
    from conftest import ready_claim
    fake_api.watch_script = lambda name, q: [
        {"type": "MODIFIED", "object": ready_claim(name, 2, sandbox="sb-late")}]
    late = []
    timer = threading.Timer(0.3, lambda: late.append(FakeRouter(require_token=False,
                                                                port=late_port)))
    with SandboxClient("t", kubeconfig=kc, port_forward_ready_timeout=30) as sb:
        timer.start()
        try:
            t0 = time.monotonic()
            assert sb.run("echo hi").stdout == "hi\n"
            assert time.monotonic() - t0 >= 0.25
        finally:
            timer.join()
    try:
        assert [(m, p) for m, p, _ in late[0].requests] == [("POST", "/execute")]
    finally:
        late[0].stop()


def test_runtime_that_never_listens_times_out_naming_the_router(kc, fake_api):
    from conftest import ready_claim
    fake_api.watch_script = lambda name, q: [
        {"type": "MODIFIED", "object": ready_claim(name, 2, sandbox="sb-late")}]
    with SandboxClient("t", kubeconfig=kc, port_forward_ready_timeout=0.5) as sb:
        with pytest.raises(SandboxTimeoutError) as ei:
            sb.run("echo hi")
    assert "sb-late is Ready but its runtime did not answer through the router" in str(ei.value)
    assert "HTTP 502" in str(ei.value), str(ei.value)
    with SandboxClient("t", kubeconfig=kc) as sb:  # is_ready() does not wait
        t0 = time.monotonic()
        assert not sb.is_ready()
        assert time.monotonic() - t0 < 5
