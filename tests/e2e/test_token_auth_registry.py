"""E2E: pulls from a registry with token authentication (the WWW-Authenticate Bearer dance).

Debian's docker-registry runs with `auth: token`; its realm is token_server.TokenServer, a real
token server on another loopback port (Basic credentials checked, ES256 JWTs with the `access`
claim, the registry trusting its key through `rootcertbundle`). Accounts: "pusher" may push
anything (the fixture's skopeo pushes), "agent" may pull team/private and team/slow only.
  - a pod with an imagePullSecret for "agent" pulls: 401 -> token (Basic) -> manifest, blobs;
  - no secret: an anonymous token with no access, the registry's 401 insufficient_scope, said so;
  - a wrong password: the token server's own 401 message in the pod's status;
  - team/forbidden, which "agent" may not pull: insufficient_scope, naming the scope;
  - a token that expires mid-pull (the first blob request is held by a forwarder between asbd
    and the registry until the registry stops honouring the token): the registry's 401
    invalid_token is answered with a new token and the pull completes.
"""

import os
import time

import pytest
from waiting import wait_for

from oci_images import (require_tools, BUSYBOX_LINKS, Forwarder, Registry, apply, build_image,
                        explained, get, pod, waiting)
from token_server import REGISTRY_LEEWAY, TokenServer

AGENT, PASSWORD = "agent", "token-pull-password"
LIFETIME = 4  # seconds the registry honours a token (the expiry test waits this long)


class HoldingForwarder(Forwarder):
    """A forwarder to `port` that holds the first blob request it sees until `release()` is
    true, then sends it on. Only a delay on the wire: every byte the registry and asbd exchange
    passes unchanged."""

    def __init__(self, port, release):
        self.release = release
        self.held = None  # the request line it held
        super().__init__(port)

    def request(self, head):
        line = head.split(b"\r\n", 1)[0].decode()
        if self.held is None and " /v2/" in line and "/blobs/" in line:
            self.held = line
            wait_for(self.release, "the held request's token to expire", timeout=LIFETIME + 30,
                     interval=0.1)
        return head, None


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    require_tools()
    root = str(tmp_path_factory.mktemp("token-registry"))
    tokens = TokenServer(root, "asb-test-registry",
                         {"pusher": "push-password", AGENT: PASSWORD},
                         {"pusher": {"*": "pull,push"},
                          AGENT: {"team/private": "pull", "team/slow": "pull"}},
                         lifetime=LIFETIME)
    reg = Registry(root, "pusher", "push-password", token_server=tokens)
    layout = os.path.join(root, "layout")
    build_image(layout, "a", dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n"}),
                ["--config.cmd", "sh"])
    reg.private = reg.push(layout, "a", "team/private:1")
    reg.forbidden = reg.push(layout, "a", "team/forbidden:1")
    build_image(layout, "slow", dict(BUSYBOX_LINKS, **{"/slow": "a layer of its own\n"}),
                ["--config.cmd", "sh"])
    reg.push(layout, "slow", "team/slow:1")
    reg.tokens = tokens
    yield reg
    reg.stop()
    tokens.stop()


def _secret(kubectl, name, host, password):
    kubectl("create", "secret", "docker-registry", name, "-n", "default",
            "--docker-server=" + host, "--docker-username=" + AGENT,
            "--docker-password=" + password)


def _pod(name, image, secret=None, script="echo pulled"):
    # Always: each pod asks the registry, even for an image an earlier test cached.
    p = pod(name, image, "native", command=["/bin/sh", "-c", script], imagePullPolicy="Always")
    if secret:
        p["spec"]["imagePullSecrets"] = [{"name": secret}]
    return p


def _pull_error(kubectl, name):
    return wait_for(lambda: waiting(kubectl, name).get("reason") in
                    ("ErrImagePull", "ImagePullBackOff") and waiting(kubectl, name),
                    "ErrImagePull for %s" % name, timeout=60)


def _succeeded(kubectl, asbd, name):
    with explained(kubectl, asbd):
        wait_for(lambda: (get(kubectl, "pod", name).get("status") or {}).get("phase") ==
                 "Succeeded", "pod %s to run" % name, timeout=120)
    assert kubectl("logs", name, "-n", "default").stdout.strip() == "pulled"


def test_a_pull_secret_gets_a_token_and_pulls(asbd, kubectl, token_registry):
    reg = token_registry
    _secret(kubectl, "tokcred", reg.host, PASSWORD)
    apply(kubectl, _pod("tok", reg.private, "tokcred"))
    _succeeded(kubectl, asbd, "tok")
    granted = [t for t in reg.tokens.tokens_for("team/private") if t[0] == AGENT]
    assert granted and granted[0][1] == ["repository:team/private:pull"], reg.tokens.issued

    # No secret: the token server hands out an anonymous token that grants nothing, and the
    # registry refuses it; the pod says which scope was missing and that it went anonymously.
    apply(kubectl, _pod("anon", reg.private))
    w = _pull_error(kubectl, "anon")
    assert "401 UNAUTHORIZED" in w["message"] and "insufficient_scope" in w["message"], w
    assert "repository:team/private:pull" in w["message"] and "anonymous" in w["message"], w


def test_a_wrong_password_shows_the_token_servers_message(asbd, kubectl, token_registry):
    reg = token_registry
    _secret(kubectl, "badcred", reg.host, "not-the-password")
    apply(kubectl, _pod("badpw", reg.private, "badcred"))
    w = _pull_error(kubectl, "badpw")
    realm_host = reg.tokens.realm.split("/")[2]
    assert "token service " + realm_host in w["message"], w
    assert "401 UNAUTHORIZED: invalid username or password for 'agent'" in w["message"], w
    assert (AGENT, "invalid username or password for 'agent'") in reg.tokens.refused


def test_a_scope_the_token_server_refuses_is_named(asbd, kubectl, token_registry):
    reg = token_registry
    _secret(kubectl, "scopecred", reg.host, PASSWORD)
    apply(kubectl, _pod("forbidden", reg.forbidden, "scopecred"))
    w = _pull_error(kubectl, "forbidden")
    assert "401 UNAUTHORIZED" in w["message"], w
    assert "insufficient_scope" in w["message"], w
    assert "does not grant repository:team/forbidden:pull" in w["message"], w
    assert 'user "agent"' in w["message"], w


def test_a_token_that_expires_mid_pull_is_renewed(asbd, kubectl, token_registry):
    reg = token_registry

    def first_token_expired():
        mine = [t for t in reg.tokens.tokens_for("team/slow") if t[0] == AGENT]
        # the registry honours a token until exp + its leeway (whole seconds)
        return bool(mine) and time.time() > mine[0][2] + REGISTRY_LEEWAY + 1

    fwd = HoldingForwarder(reg.port, first_token_expired)
    try:
        host = "127.0.0.1:%d" % fwd.port
        _secret(kubectl, "slowcred", host, PASSWORD)
        apply(kubectl, _pod("slow", host + "/team/slow:1", "slowcred"))
        _succeeded(kubectl, asbd, "slow")
    finally:
        fwd.stop()
    assert fwd.held and "/v2/team/slow/blobs/sha256:" in fwd.held, fwd.held
    mine = [t for t in reg.tokens.tokens_for("team/slow") if t[0] == AGENT]
    assert len(mine) >= 2, "no new token was fetched: %s" % reg.tokens.issued
    # The held request reached the registry with the expired token and was refused.
    with open(os.path.join(reg.root, "registry.log")) as f:
        log = f.read()
    held_path = fwd.held.split()[1]
    assert '"GET %s HTTP/1.1" 401' % held_path in log, log[-3000:]
    assert '"GET %s HTTP/1.1" 200' % held_path in log, log[-3000:]
