"""run(timeout=...) reaches the sandbox: the router hears X-Sandbox-Timeout a little above the
command's own limit, so the agent's timed-out result (not a 504) is what the caller gets. The
body's "timeout" is checked end to end against the real agent in tests/e2e/test_hostile_agent.py."""

from agentic_sandbox import SandboxClient


def test_run_sends_its_timeout_to_the_router(fake_api, fake_router, kubeconfig):
    fake_router.fail["/execute"] = (200, {
        "stdout": "", "exit_code": 1, "timed_out": True,
        "stderr": "Failed to execute command: Command '['sleep', '30']' timed out after 1.5 seconds"})
    with SandboxClient("python-runtime-template", kubeconfig=kubeconfig) as sb:
        r = sb.run("sleep 30", timeout=1.5)
        assert r.exit_code == 1 and "timed out after 1.5 seconds" in r.stderr
        sb.run("true")
    sent = [h for m, p, h in fake_router.requests if (m, p) == ("POST", "/execute")]
    assert [h["X-Sandbox-Timeout"] for h in sent] == ["6.5", "65"]
