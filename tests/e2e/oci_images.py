"""Shared by the OCI image e2e tests: a real registry (Debian's docker-registry) on a loopback
port, images built from busybox-static with umoci, and small kubectl helpers."""

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading

import pytest

from waiting import wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*argv, **kw):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (argv, r.returncode, r.stdout, r.stderr)
    return r


def require_tools(*extra):
    """Fails (never skips) when a tool the registry tests drive is missing: CI installs them."""
    for tool in ("docker-registry", "umoci", "skopeo") + extra:
        if not shutil.which(tool):
            pytest.fail("%s is not installed (scripts/install-deps.sh)" % tool)


class Registry:
    """docker-registry on a free loopback port; with `user`/`password` it requires them (its
    htpasswd auth: Basic, the password stored as bcrypt made by `htpasswd -B`), with
    `token_server` it wants bearer tokens from that server (its `auth: token`)."""

    def __init__(self, root, user=None, password=None, token_server=None):
        """With `token_server` (token_server.TokenServer) it uses token auth instead: `user`
        and `password` are then only what pushes authenticate with."""
        self.root = root
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.data = os.path.join(root, "data")
        self.creds = None
        auth = ""
        if token_server:
            self.creds = "%s:%s" % (user, password)
            auth = token_server.registry_auth_config()
        elif user:
            htpasswd = os.path.join(root, "htpasswd")
            run("htpasswd", "-B", "-b", "-c", htpasswd, user, password)
            self.creds = "%s:%s" % (user, password)
            auth = "auth:\n  htpasswd:\n    realm: asb-test\n    path: %s\n" % htpasswd
        config = os.path.join(root, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                    "http:\n  addr: %s\nlog:\n  level: error\n%s" % (self.data, self.host, auth))
        self.log = open(os.path.join(root, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=self.log,
                                     stderr=self.log)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("docker-registry exited: %s" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, "docker-registry to listen", timeout=20)

    def push(self, layout, tag, name):
        creds = ["--dest-creds", self.creds] if self.creds else []
        run("skopeo", "copy", "--dest-tls-verify=false", *creds, "oci:%s:%s" % (layout, tag),
             "docker://%s/%s" % (self.host, name))
        return "%s/%s" % (self.host, name)

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.data, "docker", "registry", "v2", "blobs", "sha256", hexd[:2],
                            hexd, "data")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


class Forwarder:
    """A loopback TCP forwarder to `port` on 127.0.0.1 (asbd opens one connection per request,
    so each connection carries one request). Subclasses see each connection's request head in
    `request(head)`, which may wait, rewrite it, or answer it itself (return (None, reply
    bytes)), and the reply's bytes in `reply(conn_state, data)`, which may change them or
    return None to cut the connection there. By default every byte passes unchanged."""

    def __init__(self, port):
        self.target = port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.host = "127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def request(self, head):
        """-> (head to send upstream, None), or (None, bytes to answer with and close)."""
        return head, None

    def reply(self, state, data):
        """`state` is the connection's dict (its "line": the request line); -> bytes or None."""
        return data

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            piece = conn.recv(65536)
            if not piece:
                conn.close()
                return
            head += piece
        state = {"line": head.split(b"\r\n", 1)[0].decode()}
        head, answer = self.request(head)
        if answer is not None:
            conn.sendall(answer)
            self._close(conn)
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.target))
        up.sendall(head)

        def down():
            try:
                while True:
                    data = up.recv(65536)
                    if not data:
                        break
                    data = self.reply(state, data)
                    if data is None:
                        break
                    conn.sendall(data)
            except OSError:
                pass
            finally:
                self._close(up, conn)

        t = threading.Thread(target=down, daemon=True)
        t.start()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                up.sendall(data)
        except OSError:
            pass
        finally:
            self._close(up, conn)
        t.join()
        conn.close()
        up.close()

    def stop(self):
        self.sock.close()


class Symlink:
    """A symlink entry for build_image's `files`."""

    def __init__(self, target):
        self.target = target


class Owned:
    """A file (`content` not None) or directory entry for build_image's `files` with its owner
    and mode; `uname` is the tar's user name (the unpacker must go by the numeric id)."""

    def __init__(self, uid, gid, mode, content=None, uname=""):
        self.uid, self.gid, self.mode, self.content, self.uname = uid, gid, mode, content, uname


def build_image(layout, tag, files, config_args):
    """An image from busybox-static: `files` maps image paths to contents (None: a link to
    busybox; Symlink; Owned; bytes/str, or (content, mode)), config_args go to `umoci config`. The layer tar is written here and added with
    `umoci raw add-layer`: Debian's umoci 0.4.7 `insert` leaves the tar's end (padding and
    end-of-archive blocks) out of the layer, which no strict reader accepts."""
    if not os.path.exists(layout):
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", "%s:%s" % (layout, tag))
    layer = "%s-%s.tar" % (layout, tag)
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
        t.add("/bin/busybox", arcname="bin/busybox")
        for path, content in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            if isinstance(content, Owned):
                info.uid, info.gid, info.mode = content.uid, content.gid, content.mode
                info.uname = info.gname = content.uname
                if content.content is None:
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
                else:
                    data = content.content.encode()
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
            elif content is None or isinstance(content, Symlink):
                info.type = tarfile.SYMTYPE
                info.linkname = content.target if content else "busybox"
                t.addfile(info)
            else:
                mode = 0o644
                if isinstance(content, tuple):
                    content, mode = content
                data = content if isinstance(content, bytes) else content.encode()
                info.size, info.mode = len(data), mode
                t.addfile(info, io.BytesIO(data))
    run("umoci", "raw", "add-layer", "--image", "%s:%s" % (layout, tag), layer)
    os.unlink(layer)
    if config_args:
        run("umoci", "config", "--image", "%s:%s" % (layout, tag), *config_args)


BUSYBOX_LINKS = {"/bin/" + t: None for t in ("sh", "cat", "echo", "id", "ls", "httpd", "env", "grep", "cut", "[", "test")}


# Answers 200 only when httpd runs as the image's USER (srv = 1000 in its /etc/passwd).
UID_CGI = """#!/bin/sh
if [ "$(id -u)" = 1000 ] && [ "$(id -g)" = 1000 ]; then
  printf 'Content-Type: text/plain\\r\\n\\r\\nuid 1000\\n'
else
  printf 'HTTP/1.0 500 Wrong user\\r\\n\\r\\nuid %s gid %s\\n' "$(id -u)" "$(id -g)"
fi
"""


def template(name, image, runtime, port=8888, path="/"):
    spec = {"containers": [{
        "name": "main", "image": image,
        "readinessProbe": {"httpGet": {"path": path, "port": port}, "periodSeconds": 1},
    }]}
    if runtime == "gvisor":
        spec["runtimeClassName"] = "gvisor"
    return {"apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxTemplate",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"podTemplate": {"spec": spec}}}


def pod(name, image, runtime, **container):
    c = {"name": "main", "image": image}
    c.update(container)
    spec = {"containers": [c], "restartPolicy": "Never"}
    if runtime == "gvisor":
        spec["runtimeClassName"] = "gvisor"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def apply(kubectl, obj):
    kubectl("apply", "-f", "-", input=json.dumps(obj))


def get(kubectl, kind, name):
    return json.loads(kubectl("get", kind, name, "-n", "default", "-o", "json").stdout)


def waiting(kubectl, name):
    statuses = (get(kubectl, "pod", name).get("status") or {}).get("containerStatuses") or []
    return (statuses[0].get("state") or {}).get("waiting") or {} if statuses else {}


def ready(kubectl, name):
    conds = (get(kubectl, "pod", name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def events(kubectl, name):
    out = kubectl("get", "events", "-n", "default", "--field-selector",
                  "involvedObject.name=" + name, "-o", "json").stdout
    return [(e.get("reason"), e.get("message", "")) for e in json.loads(out)["items"]]


@contextlib.contextmanager
def explained(kubectl, asbd):
    """On a failure, adds what the pods' statuses said (a Pending pod's waiting reason)."""
    try:
        yield
    except Exception as e:
        pods = json.loads(kubectl("get", "pods", "-n", "default", "-o", "json").stdout)["items"]
        warnings = [l for l in asbd.log().splitlines() if " W " in l or " E " in l]
        raise AssertionError("%s\npods: %s\nasbd warnings:\n%s" % (
            e, json.dumps([p.get("status") for p in pods]), "\n".join(warnings[-20:])))


def cache_dir(asbd):
    return os.path.join(asbd.state_dir, "images", "oci")
