"""SandboxClient: claim a sandbox from a template, use it, give it back.

    with SandboxClient(template_name="python-runtime-template") as sandbox:
        print(sandbox.run("echo hi").stdout)

Flow (all standard library):
  __enter__  POST a SandboxClaim `sandbox-claim-<8 hex>` to asbd's API server, then follow a
             single WATCH on that claim (from the create resourceVersion) until its Ready
             condition is True and status.sandbox names the sandbox. Terminal reasons (for
             example TemplateNotFound) fail at once.
  methods    talk to the sandbox's runtime through the asb router, which routes by the
             X-Sandbox-ID / X-Sandbox-Namespace / X-Sandbox-Port headers. There is no separate
             readiness request: until the runtime first answers, a request the router could not
             deliver (its Retry-After answer: nothing reached the sandbox) is sent again, for up
             to port_forward_ready_timeout after Ready.
  __exit__   DELETE the claim (also after exceptions and Ctrl-C); a 404 is fine.

One SandboxClient is one sandbox. Methods may be called from several threads; they are
serialised on one kept-alive router connection.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse

from . import _http, _log
from .exceptions import (
    SandboxClaimFailedError,
    SandboxConnectionError,
    SandboxError,
    SandboxNotReadyError,
    SandboxRequestError,
    SandboxTemplateNotFoundError,
    SandboxTimeoutError,
    SandboxUnauthorizedError,
    SandboxWarmPoolNotFoundError,
)
from .kubeconfig import load_config
from .models import AsbConfig, ExecutionResult, FileEntry

TYPE_CHECKING = False  # typing is ~2 ms of an import, for annotations alone
if TYPE_CHECKING:
    from typing import List, Optional, Union


CLAIM_GROUP = "extensions.agents.x-k8s.io"
CLAIM_VERSION = "v1alpha1"  # claims by template (the seed's call)
CLAIM_VERSION_POOL = "v1beta1"  # claims by warm pool (warmPoolRef, upstream's current SDK)
CLAIM_PLURAL = "sandboxclaims"

# Claim Ready=False reasons that will not fix themselves (upstream SDK's
# TERMINAL_CLAIM_READY_REASONS, plus the missing template/pool: a user waiting on a typo should
# hear about it now, not after sandbox_ready_timeout).
TERMINAL_REASONS = {
    "TemplateNotFound",
    "WarmPoolNotFound",
    "InvalidMetadata",
    "EnvVarsInjectionRejected",
    "VolumeClaimTemplatesError",
    "ClaimExpired",
    "SandboxExpired",
}


def _detail(body: bytes) -> str:
    """The human part of an error body: Kubernetes Status.message, {"detail"}, {"error"}."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(doc, dict):
        if isinstance(doc.get("message"), str):
            return doc["message"]
        if isinstance(doc.get("detail"), str):
            return doc["detail"]
        err = doc.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
    return text.strip()[:500]


class SandboxClient:
    """A sandbox claimed from `template_name` for the duration of a `with` block.

    Args:
      template_name: SandboxTemplate to claim from (a warm pool member is adopted if any).
      namespace: namespace of the template and the claim.
      server_port: port of the runtime server inside the sandbox (X-Sandbox-Port).
      sandbox_ready_timeout: seconds to wait for the claim to become Ready.
      port_forward_ready_timeout: seconds to wait for the runtime to answer through the router
        once the claim is Ready (name kept from upstream's client, which port-forwarded).
      kubeconfig: path of asbd's kubeconfig (default: see kubeconfig.default_kubeconfig_path).
      router_url: router base URL, overriding the kubeconfig's asb.dev/router extension.
      request_timeout: default seconds for API calls and file transfers.
      warmpool: claim from this SandboxWarmPool instead of a template (a v1beta1 claim with
        spec.warmPoolRef, as upstream's current SDK sends). Give template_name or warmpool.

    Without either, the client is a factory in the shape of upstream's current SDK:
        client = SandboxClient()
        sandbox = client.create_sandbox(warmpool="python-sandbox-warmpool")
        print(sandbox.commands.run("echo hi").stdout)
        sandbox.files.write("a.txt", "x"); sandbox.terminate()
    """

    def __init__(
        self,
        template_name: Optional[str] = None,
        namespace: str = "default",
        server_port: int = 8888,
        sandbox_ready_timeout: float = 180,
        port_forward_ready_timeout: float = 30,
        kubeconfig: Optional[str] = None,
        router_url: Optional[str] = None,
        request_timeout: float = 60,
        labels: Optional[dict] = None,
        warmpool: Optional[str] = None,
    ):
        if template_name and warmpool:
            raise ValueError("give template_name or warmpool, not both")
        self.template_name = template_name
        self.warmpool = warmpool
        self.namespace = namespace
        self.server_port = int(server_port)
        self.sandbox_ready_timeout = sandbox_ready_timeout
        self.port_forward_ready_timeout = port_forward_ready_timeout
        self.request_timeout = request_timeout
        self.labels = dict(labels or {})
        self._kubeconfig = kubeconfig
        self._router_url_override = router_url or os.environ.get("ASB_ROUTER_URL") or None
        self.claim_name: Optional[str] = None
        self.sandbox_name: Optional[str] = None
        self.config: Optional[AsbConfig] = None
        self._api: Optional[_http.Endpoint] = None
        self._watch: Optional[_http.Endpoint] = None
        self._router: Optional[_http.Endpoint] = None
        # Until the sandbox's runtime has answered once through the router: when its wait for
        # the runtime ends (see _router_request).
        self._runtime_deadline: Optional[float] = None
        self._lock = threading.Lock()

    # ---- context manager ----------------------------------------------------------------

    def __enter__(self) -> "SandboxClient":
        if not self.template_name and not self.warmpool:
            raise ValueError("template_name (or warmpool) is required to claim a sandbox")
        prepare = None
        try:
            self._connect_api()
            name = self._new_claim_name()
            # The watch that will see the claim become Ready is opened while the claim is
            # created: a warm claim is Ready about as soon as the create returns. With open
            # kept-alive connections (every SandboxClient after the first) the watch's request
            # just goes out before the create's and its answer is read after; else another
            # thread opens it and the router connection, whose handshakes would be the wait.
            if (self._watch.connected() and self._api.connected()
                    and (self._router is None or self._router.connected())):
                sent = self._watch.send_stream("GET", self._watch_path(
                    name, None, self.sandbox_ready_timeout), self.sandbox_ready_timeout)
                self._create_claim(name)
                early = self._watch.sent_stream("GET") if sent else None
                if early is not None and (early[1].status != 200 or self.claim_name != name):
                    early = None  # the main path opens its own (and reports the error)
                    self._watch.discard()
            else:
                prepare = _Prepare(self, name)
                prepare.start()
                self._create_claim(name)
                prepare.join()
                early = prepare.watch if self.claim_name == name else None
                if early is None and prepare.watch is not None:
                    self._watch.discard()  # it watches a name that was taken (409)
            self._wait_for_ready(early)
            self._connect_router()
        except BaseException:
            # Also on KeyboardInterrupt: never leave a claim (and its sandbox) behind.
            if prepare is not None:
                prepare.join()
            self._cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        # The DELETE is sent, not waited for: giving the sandbox back is the server's work, and
        # the process still waits for the answer at exit (wait_for_cleanup). A failure is logged.
        self._cleanup(wait=False)
        return False

    def create_sandbox(self, warmpool: str, namespace: Optional[str] = None,
                       sandbox_ready_timeout: Optional[float] = None,
                       labels: Optional[dict] = None) -> "Sandbox":
        """Claims a sandbox from `warmpool` (upstream's current SDK call) and returns a handle
        with .commands, .files and .terminate(). The claim lives until terminate() (or the end
        of a `with` block on the handle)."""
        if not warmpool:
            raise ValueError("warmpool is required")
        session = SandboxClient(
            namespace=namespace or self.namespace, server_port=self.server_port,
            sandbox_ready_timeout=(sandbox_ready_timeout if sandbox_ready_timeout is not None
                                   else self.sandbox_ready_timeout),
            port_forward_ready_timeout=self.port_forward_ready_timeout,
            kubeconfig=self._kubeconfig, router_url=self._router_url_override,
            request_timeout=self.request_timeout, labels=dict(self.labels, **(labels or {})),
            warmpool=warmpool)
        session.__enter__()
        return Sandbox(session)

    # ---- sandbox operations -------------------------------------------------------------

    def is_ready(self) -> bool:
        """True when the sandbox's runtime answers `GET /` through the router."""
        if self._router is None or self.sandbox_name is None:
            return False
        try:
            status, _, _ = self._router_request("GET", "/", timeout=5, wait_for_runtime=False)
        except SandboxError:
            return False
        return status == 200

    def run(self, command: str, timeout: float = 60) -> ExecutionResult:
        """Runs `command` in the sandbox (POST /execute) and returns its output and exit code.
        A command that fails or times out inside the sandbox is still a result (exit_code != 0),
        not an exception."""
        # The agent kills the command's process group after `timeout` and answers with
        # exit_code 1 and timed_out; the router (X-Sandbox-Timeout) and the socket wait a little
        # longer so that answer, not a 504 or a socket timeout, is what the caller gets.
        body = json.dumps({"command": command, "timeout": timeout}).encode()
        status, _, data = self._router_request(
            "POST", "/execute", body=body,
            headers={"Content-Type": "application/json", "X-Sandbox-Timeout": "%g" % (timeout + 5)},
            timeout=timeout + 10)
        self._check(status, data, "run %r" % command)
        doc = self._json(data, "run")
        return ExecutionResult(
            stdout=doc.get("stdout", "") or "",
            stderr=doc.get("stderr", "") or "",
            exit_code=int(doc.get("exit_code", -1)),
        )

    def write(self, path: str, content: Union[bytes, str], timeout: Optional[float] = None) -> None:
        """Writes `content` to `path` in the sandbox (multipart POST /upload; the part's
        filename is the destination path)."""
        if isinstance(content, str):
            content = content.encode("utf-8")
        if not path:
            raise ValueError("path is required")
        boundary = "asb-" + os.urandom(16).hex()
        quoted = path.replace("\\", "\\\\").replace('"', '\\"')
        head = (
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (boundary, quoted)
        ).encode("utf-8")
        tail = ("\r\n--%s--\r\n" % boundary).encode()
        # A list body with an explicit Content-Length is sent piece by piece, so a large file
        # is not copied into one more buffer.
        parts = [head, bytes(content), tail]
        length = sum(len(p) for p in parts)
        status, _, data = self._router_request(
            "POST", "/upload", body=parts,
            headers={"Content-Type": "multipart/form-data; boundary=" + boundary,
                     "Content-Length": str(length)},
            timeout=timeout or max(self.request_timeout, length / (8 << 20)))
        self._check(status, data, "write %s" % path)

    def read(self, path: str, timeout: Optional[float] = None) -> bytes:
        """Returns the bytes of `path` in the sandbox (GET /download/<path>)."""
        status, _, data = self._router_request(
            "GET", "/download/" + urllib.parse.quote(path), timeout=timeout)
        self._check(status, data, "read %s" % path)
        return data

    def list(self, path: str = ".", timeout: Optional[float] = None) -> List[FileEntry]:
        """Entries of directory `path` in the sandbox (GET /list/<path>)."""
        status, _, data = self._router_request(
            "GET", "/list/" + urllib.parse.quote(path), timeout=timeout)
        self._check(status, data, "list %s" % path)
        doc = self._json(data, "list")
        if not isinstance(doc, list):
            raise SandboxRequestError("list %s: expected a JSON array" % path, status,
                                      data.decode("utf-8", "replace"))
        return [
            FileEntry(name=e.get("name", ""), size=int(e.get("size", 0) or 0),
                      type=e.get("type", "file"), mod_time=float(e.get("mod_time", 0) or 0))
            for e in doc if isinstance(e, dict)
        ]

    def exists(self, path: str, timeout: Optional[float] = None) -> bool:
        """True when `path` exists in the sandbox (GET /exists/<path>)."""
        status, _, data = self._router_request(
            "GET", "/exists/" + urllib.parse.quote(path), timeout=timeout)
        self._check(status, data, "exists %s" % path)
        return bool(self._json(data, "exists").get("exists"))

    def close(self, wait: bool = False) -> None:
        """Deletes the claim and closes connections (what __exit__ does). Idempotent. The DELETE
        is sent and, unless `wait`, its answer read in the background (see wait_for_cleanup)."""
        self._cleanup(wait=wait)

    # ---- API server side ----------------------------------------------------------------

    def _claim_version(self) -> str:
        return CLAIM_VERSION_POOL if self.warmpool else CLAIM_VERSION

    def _claim_spec(self) -> dict:
        if self.warmpool:
            return {"warmPoolRef": {"name": self.warmpool}}
        return {"sandboxTemplateRef": {"name": self.template_name}}

    def _claims_path(self, name: Optional[str] = None) -> str:
        p = "/apis/%s/%s/namespaces/%s/%s" % (
            CLAIM_GROUP, self._claim_version(), urllib.parse.quote(self.namespace, safe=""),
            CLAIM_PLURAL)
        return p + ("/" + urllib.parse.quote(name, safe="") if name else "")

    def _connect_api(self) -> None:
        self.config = load_config(self._kubeconfig)
        # Two endpoints on the API server: requests, and the watch (a watch holds its
        # connection until it is abandoned, so it never shares the request connection).
        self._api, self._watch = (
            _http.Endpoint(self.config.server, self.config.token, "API server", self.config.path,
                           ca_data=self.config.ca_data,
                           insecure=self.config.insecure_skip_tls_verify,
                           timeout=self.request_timeout)
            for _ in range(2))
        url = self._router_url_override or self.config.router_url
        if url:
            self._router = _http.Endpoint(url, self.config.token, "router", self.config.path,
                                          ca_data=self.config.ca_data,
                                          insecure=self.config.insecure_skip_tls_verify,
                                          timeout=self.request_timeout)

    def _api_error(self, status: int, data: bytes, what: str) -> SandboxError:
        detail = _detail(data)
        if status in (401, 403):
            return SandboxUnauthorizedError(
                "%s: the asb API server at %s rejected the token from %s (HTTP %d): %s"
                % (what, self._api.base_url, self.config.path, status, detail))
        return SandboxRequestError("%s: HTTP %d from the asb API server: %s"
                                   % (what, status, detail), status,
                                   data.decode("utf-8", "replace"))

    @staticmethod
    def _new_claim_name() -> str:
        # os.urandom, not secrets: the same source, without importing hashlib (~5 ms)
        return "sandbox-claim-" + os.urandom(4).hex()

    def _create_claim(self, name: str) -> dict:
        labels = {"agents.x-k8s.io/created-by": "python-client"}
        labels.update(self.labels)
        for attempt in range(3):
            if attempt:
                name = self._new_claim_name()
            body = {
                "apiVersion": "%s/%s" % (CLAIM_GROUP, self._claim_version()),
                "kind": "SandboxClaim",
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
                "spec": self._claim_spec(),
            }
            status, _, data = self._api.request(
                "POST", self._claims_path(), body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Accept": "application/json"})
            if status == 409:
                continue  # name collision: pick another
            if status not in (200, 201):
                raise self._api_error(status, data, "create SandboxClaim %s" % name)
            self.claim_name = name
            claim = self._json(data, "create SandboxClaim")
            self._claim_rv = (claim.get("metadata") or {}).get("resourceVersion", "")
            _log.debug("created claim %s/%s rv=%s", self.namespace, name, self._claim_rv)
            return claim
        raise SandboxError("could not pick a free SandboxClaim name after 3 attempts")

    def _ready_from(self, claim: dict) -> bool:
        """Checks a claim's status: True when Ready with a sandbox name (sets sandbox_name);
        raises on terminal failures; False while still in progress."""
        status = claim.get("status") or {}
        sandbox = status.get("sandbox") or {}
        name = sandbox.get("Name") or sandbox.get("name")
        for cond in status.get("conditions") or []:
            if not isinstance(cond, dict) or cond.get("type") != "Ready":
                continue
            if cond.get("status") == "True" and name:
                self.sandbox_name = name
                return True
            reason = cond.get("reason") or ""
            if cond.get("status") == "False" and reason in TERMINAL_REASONS:
                msg = "SandboxClaim %s/%s failed: %s: %s" % (
                    self.namespace, self.claim_name, reason, cond.get("message", ""))
                if reason == "TemplateNotFound":
                    raise SandboxTemplateNotFoundError(
                        "%s (template %r in namespace %r)" % (msg, self.template_name,
                                                              self.namespace))
                if reason == "WarmPoolNotFound":
                    raise SandboxWarmPoolNotFoundError(msg)
                raise SandboxClaimFailedError(msg, reason)
        return False

    def _watch_path(self, name: str, rv: Optional[str], timeout: float) -> str:
        """The watch of claim `name`: from `rv`, or (None) from now, with the claim's current
        state first."""
        params = {"watch": "true", "fieldSelector": "metadata.name=" + name}
        if rv is not None:
            params["resourceVersion"] = rv
        params["timeoutSeconds"] = str(max(1, int(timeout + 0.999)))
        return self._claims_path() + "?" + urllib.parse.urlencode(params)

    def _open_watch(self, name: str, rv: Optional[str], timeout: float):
        """Starts a watch of claim `name` (see _watch_path) on the watch endpoint. Returns
        (conn, resp)."""
        return self._watch.open_stream("GET", self._watch_path(name, rv, timeout),
                                       timeout=timeout)

    def _wait_for_ready(self, early=None) -> None:
        """Follows the claim's watch until it is Ready. `early`: a watch _Prepare opened."""
        deadline = time.monotonic() + self.sandbox_ready_timeout
        rv = self._claim_rv
        if self.sandbox_name:
            return
        last_state = "no status yet"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxTimeoutError(
                    "SandboxClaim %s/%s (template %r) not Ready after %gs: %s"
                    % (self.namespace, self.claim_name, self.template_name,
                       self.sandbox_ready_timeout, last_state))
            if early is not None:
                (conn, resp), early = early, None
            else:
                conn, resp = self._open_watch(self.claim_name, rv, remaining)
            try:
                if resp.status != 200:
                    data = resp.read()
                    if resp.status == 410:
                        rv = self._refresh_claim()
                        if self.sandbox_name:
                            return
                        continue
                    raise self._api_error(resp.status, data, "watch SandboxClaim %s"
                                          % self.claim_name)
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    if conn.sock is not None:
                        conn.sock.settimeout(remaining)
                    try:
                        line = resp.readline()
                    except (TimeoutError, OSError):
                        break  # deadline or broken stream: the outer loop decides
                    except Exception:  # a malformed chunk and the like
                        break
                    if not line:
                        break  # server ended the watch: resume from the last version seen
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    etype = event.get("type")
                    obj = event.get("object") or {}
                    if etype == "ERROR":
                        if obj.get("code") == 410:
                            rv = self._refresh_claim()
                            if self.sandbox_name:
                                return
                            break
                        raise SandboxError("watch SandboxClaim %s failed: %s"
                                           % (self.claim_name, obj.get("message", obj)))
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = new_rv
                    if etype == "BOOKMARK":
                        continue
                    if (obj.get("metadata") or {}).get("name") != self.claim_name:
                        continue
                    if etype == "DELETED":
                        raise SandboxClaimFailedError(
                            "SandboxClaim %s/%s was deleted while waiting for it to become Ready"
                            % (self.namespace, self.claim_name), "Deleted")
                    if self._ready_from(obj):
                        return
                    last_state = self._describe(obj)
            finally:
                self._watch.discard()

    def _refresh_claim(self) -> str:
        status, _, data = self._api.request("GET", self._claims_path(self.claim_name))
        if status == 404:
            raise SandboxClaimFailedError("SandboxClaim %s/%s disappeared while waiting"
                                          % (self.namespace, self.claim_name), "Deleted")
        if status != 200:
            raise self._api_error(status, data, "get SandboxClaim %s" % self.claim_name)
        claim = self._json(data, "get SandboxClaim")
        self._ready_from(claim)
        return (claim.get("metadata") or {}).get("resourceVersion", "")

    @staticmethod
    def _describe(claim: dict) -> str:
        for cond in (claim.get("status") or {}).get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type") == "Ready":
                return "Ready=%s reason=%s message=%s" % (
                    cond.get("status"), cond.get("reason"), cond.get("message"))
        return "no Ready condition yet"

    def _delete_claim(self, wait: bool) -> None:
        if not self.claim_name or self._api is None:
            return
        name, self.claim_name = self.claim_name, None
        namespace = self.namespace

        def done(status, data):
            if status is None:
                _log.warning("could not delete SandboxClaim %s/%s: %s", namespace, name, data)
            elif status not in (200, 202, 404):
                _log.warning("could not delete SandboxClaim %s/%s: HTTP %d: %s",
                            namespace, name, status, _detail(data))

        if not wait:
            # ...and then keeps connections ready for the next with-block's create and watch.
            self._api.send_later("DELETE", self._claims_path(name), 30, done, spare=True)
            return
        try:
            status, _, data = self._api.request("DELETE", self._claims_path(name), timeout=30)
        except SandboxError as e:
            status, data = None, e
        done(status, data)

    def _cleanup(self, wait: bool = True) -> None:
        with self._lock:
            try:
                self._delete_claim(wait)
            finally:
                if self._watch is not None:
                    self._watch.discard()
                for ep in (self._router, self._api):
                    if ep is not None:
                        ep.close()  # back to the process's pool for the next sandbox
                self._router = None
                self.sandbox_name = None

    # ---- router side --------------------------------------------------------------------

    def _connect_router(self) -> None:
        if self._router is None:
            raise SandboxConnectionError(
                "asbd reports no router: %s has no %r cluster extension (is the router enabled "
                "in asbd?); pass router_url=... or set ASB_ROUTER_URL"
                % (self.config.path, "asb.dev/router"))
        # The claim is Ready, so the sandbox passed its readiness probe; its runtime may still
        # not listen (a template without a probe on server_port), which the first request
        # finds out without a round trip of its own.
        self._runtime_deadline = time.monotonic() + self.port_forward_ready_timeout

    def _router_request(self, method, path, body=None, headers=None, timeout=None,
                        wait_for_runtime=True):
        if self._router is None or self.sandbox_name is None:
            raise SandboxNotReadyError(
                "no sandbox: use SandboxClient as a context manager (`with SandboxClient(...) "
                "as sandbox:`) before calling its methods")
        h = {
            "X-Sandbox-ID": self.sandbox_name,
            "X-Sandbox-Namespace": self.namespace,
            "X-Sandbox-Port": str(self.server_port),
        }
        if headers:
            h.update(headers)
        with self._lock:
            while True:
                status, rh, data = self._router.request(method, path, body=body, headers=h,
                                                        timeout=timeout)
                if self._runtime_deadline is None or not wait_for_runtime:
                    return status, rh, data
                if not _undelivered(status, rh) or not _http._replayable(body):
                    self._runtime_deadline = None  # the runtime answered (or this can't wait)
                    return status, rh, data
                if time.monotonic() >= self._runtime_deadline:
                    raise SandboxTimeoutError(
                        "sandbox %s is Ready but its runtime did not answer through the router "
                        "at %s within %gs: HTTP %d: %s"
                        % (self.sandbox_name, self._router.base_url,
                           self.port_forward_ready_timeout, status, _detail(data)))
                time.sleep(0.05)

    def _check(self, status: int, data: bytes, what: str) -> None:
        if 200 <= status < 300:
            return
        detail = _detail(data)
        if status in (401, 403):
            raise SandboxUnauthorizedError(
                "%s: the asb router rejected the token from %s (HTTP %d): %s"
                % (what, self.config.path if self.config else "?", status, detail))
        raise SandboxRequestError("%s in sandbox %s: HTTP %d: %s"
                                  % (what, self.sandbox_name, status, detail), status,
                                  data.decode("utf-8", "replace"))

    @staticmethod
    def _json(data: bytes, what: str):
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            raise SandboxError("%s: response is not JSON: %r" % (what, data[:200])) from None


def _undelivered(status: int, headers: dict) -> bool:
    """True for the router's own answer that it could not connect into the sandbox: nothing of
    the request reached it, so any request may be sent again. The router marks exactly those
    with Retry-After, and every response it relays carries its Server-Timing."""
    return (status in (502, 503) and "retry-after" in headers
            and "server-timing" not in headers)


class _Prepare(threading.Thread):
    """Opens a claim's watch and the router connection while the claim is being created (both
    are network round trips, and TLS handshakes on a first use, that need only the name)."""

    def __init__(self, client: SandboxClient, claim_name: str):
        super().__init__(name="agentic-sandbox-prepare", daemon=True)
        self._client = client
        self._claim_name = claim_name
        self.watch = None  # (conn, resp) of an open watch with status 200, or None

    def run(self):
        c = self._client
        try:
            conn, resp = c._open_watch(self._claim_name, None, c.sandbox_ready_timeout)
            if resp.status == 200:
                self.watch = (conn, resp)
            else:
                c._watch.discard()  # the main path opens its own and reports the error
        except SandboxError:
            pass  # likewise: the create, or the main path's watch, says what is wrong
        if c._router is not None:
            c._router.connect()


class _Commands:
    """sandbox.commands (upstream's current SDK shape)."""

    def __init__(self, session: SandboxClient):
        self._s = session

    def run(self, command: str, timeout: float = 60) -> ExecutionResult:
        return self._s.run(command, timeout=timeout)


class _Files:
    """sandbox.files (upstream's current SDK shape)."""

    def __init__(self, session: SandboxClient):
        self._s = session

    def write(self, path: str, content: Union[bytes, str], timeout: Optional[float] = None):
        return self._s.write(path, content, timeout=timeout)

    def read(self, path: str, timeout: Optional[float] = None) -> bytes:
        return self._s.read(path, timeout=timeout)

    def list(self, path: str = ".", timeout: Optional[float] = None) -> List[FileEntry]:
        return self._s.list(path, timeout=timeout)

    def exists(self, path: str, timeout: Optional[float] = None) -> bool:
        return self._s.exists(path, timeout=timeout)


class Sandbox:
    """A claimed sandbox returned by SandboxClient.create_sandbox(warmpool=...)."""

    def __init__(self, session: SandboxClient):
        self._session = session
        self.claim_name = session.claim_name
        self.sandbox_name = session.sandbox_name
        self.namespace = session.namespace
        self.commands = _Commands(session)
        self.files = _Files(session)

    def is_ready(self) -> bool:
        return self._session.is_ready()

    def terminate(self, wait: bool = False) -> None:
        """Deletes the claim (and so the sandbox). Idempotent. Unless `wait`, the DELETE's answer
        is read in the background (see wait_for_cleanup)."""
        self._session._cleanup(wait=wait)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.terminate()
        return False


def wait_for_cleanup(timeout: float = 30) -> bool:
    """Waits until every claim given back without waiting (the end of a `with` block, close(),
    terminate()) has been deleted by the API server or failed (failures are logged). True when
    none is left within `timeout` seconds. The process does this by itself at exit."""
    return _http.wait_background(timeout)
