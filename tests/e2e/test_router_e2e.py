"""E2E: asbd's router contract as a client sees it (curl-level HTTP against a real asbd).

Skips loudly until the router is wired into asbd (see test_python_client.asb_env)."""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_python_client import asb_env, seeded  # noqa: E402,F401  (fixtures)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python", "src"))
from agentic_sandbox import SandboxClient  # noqa: E402


def _call(url, headers=None, data=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_healthz_and_auth(asb_env):
    _, cfg = asb_env
    status, body = _call(cfg.router_url + "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = _call(cfg.router_url + "/", {"X-Sandbox-ID": "x"})
    assert status == 401
    status, body = _call(cfg.router_url + "/", {"Authorization": "Bearer " + cfg.token})
    assert status == 400
    assert json.loads(body) == {"detail": "X-Sandbox-ID header is required."}
    status, body = _call(cfg.router_url + "/", {"Authorization": "Bearer " + cfg.token,
                                                "X-Sandbox-ID": "no-such-sandbox"})
    assert status == 404, body


def test_execute_through_router_by_header(seeded):
    kubeconfig, cfg = seeded
    with SandboxClient("python-runtime-template", kubeconfig=kubeconfig) as sb:
        status, body = _call(cfg.router_url + "/execute",
                             {"Authorization": "Bearer " + cfg.token,
                              "X-Sandbox-ID": sb.sandbox_name,
                              "Content-Type": "application/json"},
                             data=json.dumps({"command": "echo routed"}).encode(),
                             method="POST")
        assert status == 200, body
        assert json.loads(body)["stdout"].strip() == "routed"
