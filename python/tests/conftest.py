"""Fake asbd for unit tests: an API server (claims + watch) and a router, each an http.server
on 127.0.0.1:0 in a thread, plus a kubeconfig pointing at them."""

import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Tests import the package from the source tree (no install needed).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

TOKEN = "unit-test-token"
CLAIMS = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxclaims"


def ready_claim(name, rv, sandbox="sb-warm-1", key="name"):
    return {
        "apiVersion": "extensions.agents.x-k8s.io/v1alpha1",
        "kind": "SandboxClaim",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "DependenciesReady"}],
            "sandbox": {key: sandbox},
        },
    }


def pending_claim(name, rv, reason="SandboxNotReady", message="waiting"):
    return {
        "apiVersion": "extensions.agents.x-k8s.io/v1alpha1",
        "kind": "SandboxClaim",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": reason,
                                   "message": message}]},
    }


class _FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread; subclasses pass their handler."""

    def _serve(self, handler, port=0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class FakeApi(_FakeServer):
    """Scriptable API server. `watch_script(claim_name, query)` returns a list of items, each an
    event dict (sent as one JSON line) or a float (sleep that long); the stream then ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.created = []       # (headers, body)
        self.watches = []       # parsed query dicts
        self.deleted = []       # claim names
        self.gets = []
        self.create_status = 201
        self.delete_status = 200
        self.connections = 0  # TCP connections accepted
        self.create_conflicts = 0  # answer this many creates 409 AlreadyExists first
        self.close_after_create = False  # close the connection after answering, unannounced
        self.delete_gate = None  # a threading.Event the DELETE answer waits for, or None
        self.claim_status = 404  # GET claim status code
        self.claim_object = None
        self.auth_ok = True
        self.watch_script = lambda name, query: [{"type": "MODIFIED",
                                                  "object": ready_claim(name, 2)}]

        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else 40 ms delayed-ACK stalls on split writes

            def setup(self):
                super().setup()
                with api.lock:
                    api.connections += 1

            def log_message(self, *a):
                pass

            def _json(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self):
                if api.auth_ok and self.headers.get("Authorization") == "Bearer " + TOKEN:
                    return True
                self._json(401, {"kind": "Status", "status": "Failure", "code": 401,
                                 "reason": "Unauthorized", "message": "Unauthorized"})
                return False

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self._authorized():
                    return
                if self.path != CLAIMS:
                    return self._json(404, {"message": "no route " + self.path})
                obj = json.loads(body)
                with api.lock:
                    api.created.append((dict(self.headers), obj))
                    conflict = api.create_conflicts > 0
                    api.create_conflicts -= conflict
                if conflict:
                    return self._json(409, {"kind": "Status", "code": 409,
                                            "reason": "AlreadyExists", "message": "exists"})
                if api.create_status not in (200, 201):
                    return self._json(api.create_status, {"kind": "Status", "code":
                                                          api.create_status,
                                                          "message": "create refused"})
                obj.setdefault("metadata", {})["resourceVersion"] = "1"
                self._json(201, obj)
                if api.close_after_create:
                    self.close_connection = True  # as a server's idle timeout would

            def do_GET(self):
                if not self._authorized():
                    return
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == CLAIMS and query.get("watch") == "true":
                    with api.lock:
                        api.watches.append(query)
                    name = query.get("fieldSelector", "").split("=", 1)[-1]
                    script = api.watch_script(name, query)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for item in script:
                            if isinstance(item, (int, float)):
                                time.sleep(item)
                                continue
                            line = (json.dumps(item) + "\n").encode()
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.close_connection = True
                    return
                if url.path.startswith(CLAIMS + "/"):
                    with api.lock:
                        api.gets.append(url.path)
                    if api.claim_status == 200:
                        return self._json(200, api.claim_object)
                    return self._json(api.claim_status, {"message": "not found"})
                self._json(404, {"message": "no route"})

            def do_DELETE(self):
                if not self._authorized():
                    return
                name = self.path.rsplit("/", 1)[-1]
                with api.lock:
                    api.deleted.append(name)
                if api.delete_gate is not None:
                    api.delete_gate.wait(10)
                self._json(api.delete_status, {"kind": "Status", "status": "Success"})

        self._serve(Handler)


class FakeRouter(_FakeServer):
    """Plays the router in front of an upstream-style python runtime (in-memory files)."""

    def __init__(self, require_token=True, port=0):
        self.lock = threading.Lock()
        self.require_token = require_token  # False: play the runtime behind a real router
        self.requests = []   # (method, path, headers)
        self.files = {}
        self.connections = 0
        self.fail = {}       # path prefix -> (status, body)
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else 40 ms delayed-ACK stalls on split writes

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with router.lock:
                    router.connections += 1

            def _reply(self, status, obj=None, raw=None, ctype="application/json"):
                data = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                n = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(n) if n else b""
                with router.lock:
                    router.requests.append((method, self.path, dict(self.headers)))
                if router.require_token and self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self._reply(401, {"detail": "Missing or invalid bearer token."})
                if not self.headers.get("X-Sandbox-ID"):
                    return self._reply(400, {"detail": "X-Sandbox-ID header is required."})
                for prefix, (status, obj) in router.fail.items():
                    if self.path.startswith(prefix):
                        return self._reply(status, obj)
                path = urllib.parse.unquote(self.path)
                if method == "GET" and self.path == "/":
                    return self._reply(200, {"status": "ok", "message": "Sandbox Runtime is active."})
                if method == "POST" and self.path == "/execute":
                    cmd = json.loads(body)["command"]
                    out = cmd[len("echo "):].strip("'") + "\n" if cmd.startswith("echo ") else ""
                    return self._reply(200, {"stdout": out, "stderr": "", "exit_code": 0})
                if method == "POST" and self.path == "/upload":
                    ctype = self.headers.get("Content-Type", "")
                    boundary = ctype.split("boundary=", 1)[1].encode()
                    part = body.split(b"--" + boundary)[1]
                    head, content = part.split(b"\r\n\r\n", 1)
                    content = content[: -len(b"\r\n")]
                    fname = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
                    with router.lock:
                        router.files[fname] = content
                    return self._reply(200, {"message": "File '%s' uploaded successfully." % fname})
                if method == "GET" and path.startswith("/download/"):
                    name = path[len("/download/"):]
                    if name not in router.files:
                        return self._reply(404, {"message": "File not found"})
                    return self._reply(200, raw=router.files[name],
                                       ctype="application/octet-stream")
                if method == "GET" and path.startswith("/exists/"):
                    name = path[len("/exists/"):]
                    return self._reply(200, {"path": name, "exists": name in router.files})
                if method == "GET" and path.startswith("/list/"):
                    # One directory level, as asb-agent answers: files directly in the directory,
                    # and each subdirectory once, as type "directory"; 404 for no such directory.
                    d = path[len("/list/"):].strip("/")
                    d = "" if d == "." else d
                    prefix = d + "/" if d else ""
                    entries = {}
                    for k, v in router.files.items():
                        if not k.startswith(prefix):
                            continue
                        rest = k[len(prefix):]
                        if "/" in rest:
                            entries[rest.split("/", 1)[0]] = ("directory", 4096)
                        else:
                            entries[rest] = ("file", len(v))
                    if d and not entries:
                        return self._reply(404, {"message": "Path is not a directory"})
                    return self._reply(200, [{"name": n, "size": s, "type": t,
                                              "mod_time": 1700000000.5}
                                             for n, (t, s) in sorted(entries.items())])
                self._reply(404, {"detail": "no route"})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self._serve(Handler, port)


def write_kubeconfig(path, server, router=None, token=TOKEN):
    cluster = {"server": server}
    if router:
        cluster["extensions"] = [{"name": "asb.dev/router", "extension": {"server": router}}]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "asb",
        "clusters": [{"name": "asb", "cluster": cluster}],
        "users": [{"name": "asb", "user": {"token": token}}],
        "contexts": [{"name": "asb", "context": {"cluster": "asb", "user": "asb"}}],
    }
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


@pytest.fixture
def fake_api():
    api = FakeApi()
    yield api
    api.stop()


@pytest.fixture
def fake_router():
    r = FakeRouter()
    yield r
    r.stop()


@pytest.fixture
def kubeconfig(tmp_path, fake_api, fake_router, monkeypatch):
    for var in ("ASB_KUBECONFIG", "ASB_STATE_DIR", "ASB_ROUTER_URL", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    return write_kubeconfig(tmp_path / "kubeconfig", fake_api.url, fake_router.url)
