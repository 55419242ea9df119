"""E2E: latency you can see. /metrics on the API port (Prometheus text, parsed by Debian's
prometheus_client), a claim's status.startup, and the router's Server-Timing header, after a
user's with-block through the Python client against a real asbd with native sandboxes."""

import json
import os
import ssl
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_python_client import _kubectl, asb_env, seeded  # noqa: E402,F401  (fixtures)
from waiting import wait_for  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python", "src"))
from agentic_sandbox import SandboxClient  # noqa: E402


def _scrape(cfg, token=True):
    """(status, {family name: family}) of GET /metrics on the API port over its TLS."""
    ctx = ssl.create_default_context(cadata=cfg.ca_data.decode())
    headers = {"Authorization": "Bearer " + cfg.token} if token else {}
    req = urllib.request.Request(cfg.server + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
            text = r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {}
    return 200, {f.name: f for f in text_string_to_metric_families(text)}


def _samples(families, family, name, **labels):
    """Values of samples `name` in `family` whose labels include `labels`. (The parser names a
    counter's family without its _total suffix.)"""
    f = families.get(family) or families.get(family[:-len("_total")] if family.endswith(
        "_total") else None)
    if f is None:
        return []
    return [s.value for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def _count(families, family, **labels):
    return sum(_samples(families, family, family + "_count", **labels))


def test_metrics_need_the_token(asb_env):
    _, cfg = asb_env
    assert _scrape(cfg, token=False)[0] == 401


def test_a_with_block_shows_up_in_metrics_status_and_server_timing(seeded):
    kubeconfig, cfg = seeded
    status, before = _scrape(cfg)
    assert status == 200
    # The pool's two members were started by the node, and the state gauges see them.
    assert _count(before, "asb_node_sandbox_start_duration_seconds", runtime="native") >= 2
    assert sum(_samples(before, "agent_sandboxes", "agent_sandboxes",
                        owned_by="SandboxWarmPool", ready_condition="true")) == 2
    assert _samples(before, "agent_sandbox_warmpool_ready_replicas",
                    "agent_sandbox_warmpool_ready_replicas",
                    warmpool="python-sandbox-warmpool") == [2]
    stops_before = _count(before, "asb_node_sandbox_stop_duration_seconds", runtime="native")
    warm_before = _count(before, "agent_sandbox_claim_controller_startup_latency_ms",
                         launch_type="warm")

    with SandboxClient("python-runtime-template", kubeconfig=kubeconfig) as sb:
        claim_name = sb.claim_name
        # Server-Timing on a proxied exec: every hop named, each a duration in ms.
        req = urllib.request.Request(
            cfg.router_url + "/execute", data=json.dumps({"command": "echo hi"}).encode(),
            method="POST", headers={"Authorization": "Bearer " + cfg.token,
                                    "X-Sandbox-ID": sb.sandbox_name,
                                    "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.loads(r.read())["stdout"] == "hi\n"
            timing = {m.split(";")[0].strip(): m for m in r.headers["Server-Timing"].split(",")}
        assert set(timing) == {"resolve", "dial", "upstream"}, timing
        for metric in timing.values():
            assert float(metric.split("dur=")[1].split(";")[0]) >= 0, timing
        claim = json.loads(_kubectl(kubeconfig, "get", "sandboxclaim", claim_name, "-o", "json"))
        startup = claim["status"]["startup"]
        assert startup["controllerObservedTime"] <= startup["firstReadyTime"], startup
        # v1alpha1 (kubectl's preferred version here) and v1beta1 serve the same fields.
        beta = json.loads(_kubectl(
            kubeconfig, "get", "sandboxclaims.v1beta1.extensions.agents.x-k8s.io", claim_name,
            "-o", "json"))
        assert beta["status"]["startup"] == startup

    _, after = _scrape(cfg)
    assert _count(after, "agent_sandbox_claim_controller_startup_latency_ms",
                  launch_type="warm", sandbox_template="python-runtime-template") == \
        warm_before + 1
    assert _count(after, "agent_sandbox_claim_startup_latency_ms", launch_type="warm") >= 1
    assert sum(_samples(after, "apiserver_request_total", "apiserver_request_total", verb="POST",
                        resource="sandboxclaims", code="201")) >= 1
    assert _count(after, "apiserver_request_duration_seconds", verb="POST",
                  resource="sandboxclaims") >= 1
    assert _count(after, "asb_router_request_duration_seconds", code="200") >= 1
    # The claim's deletion stops its sandbox: the stop histogram counts it.
    wait_for(lambda: (_count(_scrape(cfg)[1], "asb_node_sandbox_stop_duration_seconds",
                             runtime="native") > stops_before, "stop not counted yet"),
             "the claim's sandbox stop to be counted", timeout=30, interval=0.2)
