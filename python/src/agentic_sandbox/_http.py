"""Keep-alive HTTP/1.1 connections (_wire.py), shared per process (standard library only).

A program that opens one SandboxClient after another (an agent running many short tasks) should
not pay for a TCP connection and a TLS handshake each time. So, per process:
  - one ssl.SSLContext per (CA, insecure) pair: loading a CA costs ~0.5 ms, the system store ~30;
  - a few idle connections per server, handed back when a SandboxClient is done with them and
    checked for a server-side close before they are used again;
  - the server's last TLS session ticket per server, so a new connection resumes instead of
    verifying the certificate chain again.

An Endpoint is not thread-safe (SandboxClient serialises calls with a lock); the shared pool is.
"""

from __future__ import annotations

import atexit
import os
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

from . import _log, _wire
from .exceptions import SandboxConnectionError, SandboxError, SandboxTimeoutError

TYPE_CHECKING = False  # typing is ~2 ms of an import, for annotations alone
if TYPE_CHECKING:
    from typing import Optional, Tuple

# Errors that mean "the kept-alive connection was closed by the server while idle".
_STALE = (_wire.RemoteClosed, BrokenPipeError, ConnectionResetError, ssl.SSLZeroReturnError,
          ssl.SSLEOFError)

# Idle API server connections the background thread keeps ready after a with-block: the next
# one takes two at once (its create's and its watch's, and the watch's is closed after it).
_SPARE = 2

# Idle connections kept per server. A SandboxClient holds at most two (API server, router) at a
# time, so a few cover a handful of threads each opening sandboxes.
_MAX_IDLE_PER_SERVER = 4

_lock = threading.Lock()
_contexts = {}  # (ca_data, insecure) -> SSLContext
_idle = {}      # server key -> [_wire.Connection], most recently returned last
_sessions = {}  # server key -> ssl.SSLSession


# ASB_CLIENT_TRACE=1: one line per request on stderr (what, status, milliseconds to the response
# header, whether the connection was kept alive, the server's Server-Timing), to see where a
# with-block's time goes without a profiler.
_TRACE = bool(os.environ.get("ASB_CLIENT_TRACE"))


def _trace(what, method, path, status, started, reused, headers):
    target = path.split("?", 1)[0] + (" (watch)" if "watch=true" in path else "")
    timing = headers.get("server-timing") if headers else None
    sys.stderr.write("asb-client: %s %s %s -> %s %.2f ms %s%s\n" % (
        what, method, target, status, (time.perf_counter() - started) * 1e3,
        "kept-alive" if reused else "new connection",
        " server-timing: " + timing if timing else ""))


def tls_context(ca_data: Optional[bytes], insecure: bool) -> ssl.SSLContext:
    """The process's SSLContext for servers presenting a certificate from `ca_data` (the
    kubeconfig's CA; None = the system store)."""
    key = (ca_data, insecure)
    with _lock:
        ctx = _contexts.get(key)
    if ctx is not None:
        return ctx
    if ca_data:
        # The kubeconfig's CA is the only one this endpoint can present: trust just it.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and hostname
        ctx.load_verify_locations(cadata=ca_data.decode("ascii", "replace"))
    else:
        ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with _lock:
        return _contexts.setdefault(key, ctx)


def _read_tickets(sock, wait: float = 0.05) -> None:
    """Reads the TLS 1.3 session tickets a server sends just after the handshake, which would
    otherwise make an unused connection look readable (closed) to _idle_and_open."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            if sock.recv(1):  # application data before any request: not a connection to keep
                raise ssl.SSLError("unexpected data on an idle connection")
            break
    except ssl.SSLWantReadError:
        pass  # the tickets were read, nothing else arrived
    finally:
        sock.settimeout(timeout)


def _idle_and_open(conn) -> bool:
    """True when `conn` finished its last exchange and the server has not closed it since (an
    idle server sends nothing, so anything readable is a FIN or a TLS close_notify)."""
    sock = conn.sock
    if not conn.idle():
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False  # decrypted bytes nobody asked for
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class Endpoint:
    """One base URL (http or https), a bearer token and a kept-alive connection."""

    def __init__(self, base_url: str, token: Optional[str], what: str, config_path: str,
                 ca_data: Optional[bytes] = None, insecure: bool = False, timeout: float = 60):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SandboxConnectionError(
                "%s URL %r from %s is not an http(s) URL" % (what, base_url, config_path))
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.config_path = config_path
        self.token = token
        self.timeout = timeout
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._prefix = parsed.path.rstrip("/")
        self._ssl = tls_context(ca_data, insecure) if parsed.scheme == "https" else None
        self._server_key = (self._scheme, self._host, self._port, id(self._ssl))
        self._conn = None
        self._reused = False  # _conn came from the pool or has served a request

    # ---- connections ----------------------------------------------------------------------

    def _new_connection(self, timeout: float) -> _wire.Connection:
        return _wire.Connection(self._host, self._port, timeout, tls=self._ssl,
                                session_for=self._last_session if self._ssl else None)

    def _last_session(self):
        with _lock:
            return _sessions.get(self._server_key)

    def _remember_session(self, conn: _wire.Connection) -> None:
        # TLS 1.3 tickets arrive after the handshake, so this is called once a response was read.
        session = getattr(conn.sock, "session", None)
        if session is not None:
            with _lock:
                _sessions[self._server_key] = session

    def _take_connection(self, timeout: float):
        """(connection, reused): an idle pooled one that is still open, else a new one."""
        while True:
            with _lock:
                pool = _idle.get(self._server_key)
                conn = pool.pop() if pool else None
            if conn is None:
                return self._new_connection(timeout), False
            if _idle_and_open(conn):
                return conn, True
            conn.close()

    def connected(self) -> bool:
        """Takes a pooled connection if none is held; True when the one held is open, so a
        request sent on it goes out at once, without a handshake."""
        if self._conn is None:
            self._conn, self._reused = self._take_connection(self.timeout)
        return self._conn.sock is not None

    def send_stream(self, method: str, path: str, timeout: float) -> bool:
        """The sending half of open_stream() on the open connection connected() found: True
        when the request went out (sent_stream() then reads its answer); on failure the
        connection is discarded and False returned."""
        self._stream_sent = (path, time.perf_counter())  # for the trace
        try:
            self._conn.settimeout(timeout)
            self._conn.send(method, self._prefix + path, self._headers(None))
            return True
        except OSError:
            self.discard()
            return False

    def sent_stream(self, method: str):
        """(conn, resp) for the request send_stream() sent, or None when its answer could not
        be read (the connection is discarded: the caller may open the stream again)."""
        conn = self._conn
        try:
            resp = conn.read_response(method)
        except OSError:
            self.discard()
            return None
        if _TRACE:
            path, started = self._stream_sent
            _trace(self.what, method, path, resp.status, started, True, resp.headers)
        return conn, resp

    def connect(self) -> None:
        """Makes sure this endpoint holds an open connection (TCP and TLS handshake done), so the
        next request does not wait for one. Errors are left for that request to report."""
        if self._conn is None:
            self._conn, self._reused = self._take_connection(self.timeout)
        if self._conn.sock is None:
            try:
                self._conn.connect()
            except OSError:  # ssl.SSLError included
                self.discard()

    def keep_spare(self, want: int = _SPARE) -> None:
        """Opens connections to this endpoint's server (TCP and TLS handshakes) until `want` idle
        ones wait in the pool, so the next SandboxClient's create and watch do not wait for a
        handshake. Called from the background thread after a with-block; errors are left for a
        real request to report."""
        with _lock:
            missing = want - len(_idle.get(self._server_key, ()))
        for _ in range(missing):
            conn = self._new_connection(self.timeout)
            try:
                conn.connect()
                if self._ssl is not None:
                    _read_tickets(conn.sock)
                    self._remember_session(conn)
            except OSError:
                conn.close()
                return
            if not _idle_and_open(conn):
                conn.close()
                return
            with _lock:
                pool = _idle.setdefault(self._server_key, [])
                if len(pool) >= _MAX_IDLE_PER_SERVER:
                    conn.close()
                    return
                pool.insert(0, conn)  # after the connections that served requests

    def close(self):
        """Gives the connection back to the process's pool if it is idle and open, else closes
        it. The endpoint stays usable (the next request takes a connection again)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if _idle_and_open(conn):
            with _lock:
                pool = _idle.setdefault(self._server_key, [])
                if len(pool) < _MAX_IDLE_PER_SERVER:
                    pool.append(conn)
                    return
        conn.close()

    def discard(self):
        """Closes the connection for good (after an error, or mid-response)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _unreachable(self, err) -> SandboxConnectionError:
        return SandboxConnectionError(
            "cannot reach the asb %s at %s (from %s): %s; is asbd running?"
            % (self.what, self.base_url, self.config_path, err))

    def _headers(self, extra):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    # ---- requests -------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, headers=None,
                timeout: Optional[float] = None) -> Tuple[int, dict, bytes]:
        """Sends one request on the kept-alive connection and reads the whole response.

        A connection the server closed while idle is replaced once, transparently. Raises
        SandboxConnectionError when the server can't be reached, SandboxTimeoutError when no
        answer arrives within `timeout` seconds."""
        timeout = self.timeout if timeout is None else timeout

        def finish(conn, resp):
            data = resp.read()
            self._reused = True  # from now on an error may be a server-side idle close
            if resp.will_close:
                self.discard()
            elif self._ssl is not None:
                self._remember_session(conn)
            return resp.status, resp.headers, data

        return self._exchange(method, path, body, self._headers(headers), timeout, finish)

    def send_later(self, method: str, path: str, timeout: float, done, spare=False) -> None:
        """Sends a bodiless request now and returns at once; the process's background thread
        reads the answer and calls done(status, data), or done(None, SandboxError), then gives
        the connection back to the pool. The request is on the wire (or in the kernel's send
        buffer) when this returns, and the process waits for the answers at exit. `spare`: then
        keep_spare() (which nobody waits for)."""
        headers = self._headers(None)
        if self._conn is None:
            self._conn, self._reused = self._take_connection(timeout)
        conn, reused, self._conn = self._conn, self._reused, None
        later = object.__new__(Endpoint)  # this endpoint without its connection, for the thread
        later.__dict__.update(self.__dict__)
        started = time.perf_counter()
        try:
            conn.settimeout(timeout)
            conn.send(method, self._prefix + path, headers)
        except OSError:
            conn.close()
            conn = None  # the thread sends it again on a new connection, and reports errors

        def job() -> bool:
            try:
                if conn is not None:
                    later._conn, later._reused = conn, True
                    try:
                        resp = conn.read_response(method)
                        if _TRACE:
                            _trace(self.what, method, path, resp.status, started, reused,
                                   resp.headers)
                        done(resp.status, resp.read())
                        if resp.will_close:
                            later.discard()
                        return True
                    except _STALE:
                        later.discard()
                        if not reused:
                            raise
                # Never sent, or sent on a kept-alive connection the server had closed.
                status, _, data = later.request(method, path, timeout=timeout)
                done(status, data)
                return True
            except SandboxError as e:
                done(None, e)
            except socket.timeout:
                done(None, SandboxTimeoutError(
                    "%s %s%s: no response from the asb %s within %gs"
                    % (method, self.base_url, path, self.what, timeout)))
            except OSError as e:
                done(None, self._unreachable(e))
            finally:
                later.close()
            return False

        _background.add(job, later.keep_spare if spare else None)

    def open_stream(self, method: str, path: str, timeout: float):
        """Sends a request whose response is long (a watch) on this endpoint's connection (a
        pooled or new one) and returns (conn, resp). The caller reads resp line by line and
        calls discard() when done: a connection left mid-response is never reused."""
        return self._exchange(method, path, None, self._headers(None), timeout,
                              lambda conn, resp: (conn, resp))

    def _exchange(self, method, path, body, headers, timeout, finish):
        """Sends the request and returns finish(conn, resp), mapping failures to the client's
        errors. A request that went out on a reused idle connection the server had closed is
        sent once more on a new one (if its body can be sent again): on a fresh connection the
        error is real."""
        for attempt in (0, 1):
            if self._conn is None:
                self._conn, self._reused = self._take_connection(timeout)
            conn, reused = self._conn, self._reused
            try:
                conn.settimeout(timeout)
                if _TRACE:
                    started = time.perf_counter()
                    resp = conn.request(method, self._prefix + path, headers, body)
                    _trace(self.what, method, path, resp.status, started, reused, resp.headers)
                    return finish(conn, resp)
                return finish(conn, conn.request(method, self._prefix + path, headers, body))
            except _STALE as e:
                self.discard()
                if reused and attempt == 0 and _replayable(body):
                    continue
                raise self._unreachable(e) from None
            except socket.timeout:
                self.discard()
                raise SandboxTimeoutError(
                    "%s %s%s: no response from the asb %s within %gs"
                    % (method, self.base_url, path, self.what, timeout)) from None
            except OSError as e:  # ConnectionError, ssl.SSLError, _wire.ProtocolError
                self.discard()
                raise self._unreachable(e) from None
        raise AssertionError("unreachable")


class _Background:
    """One daemon thread per process that finishes requests sent with Endpoint.send_later, in
    order. At exit the process waits (boundedly) for them, so a claim given back at the end of a
    script is deleted although nobody waited for the answer."""

    EXIT_WAIT = 30  # seconds, as long as a waited-for DELETE may take

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Forgets every job (in a forked child, where the thread is gone)."""
        self._cond = threading.Condition()
        self._jobs = []
        self._unfinished = 0
        self._thread = None

    def add(self, job, after=None) -> None:
        """Runs job() on the thread; then, if it returned True, after() (which wait() does not
        wait for)."""
        with self._cond:
            self._jobs.append((job, after))
            self._unfinished += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="agentic-sandbox-background")
                self._thread.start()
                atexit.register(self.wait, self.EXIT_WAIT)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job, after = self._jobs.pop(0)
            ok = False
            try:
                ok = job()
            except Exception:  # a bug in a callback must not stop the next ones
                _log.exception("agentic_sandbox background request failed")
            finally:
                with self._cond:
                    self._unfinished -= 1
                    self._cond.notify_all()
            if ok and after is not None:
                try:
                    after()
                except Exception:
                    _log.exception("agentic_sandbox background work failed")

    def wait(self, timeout: float) -> bool:
        """True when every request sent so far has been answered (or failed) within timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._unfinished:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


_background = _Background()


def _after_fork_in_child() -> None:
    # A child must not send on its parent's connections (both would write into one TLS
    # stream), nor wait for the parent's background thread, which it does not have. Closing
    # the child's copies of the sockets leaves the parent's connections alone.
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for pool in _idle.values():
        for conn in pool:
            conn.close()
    _idle.clear()
    _background.reset()


os.register_at_fork(after_in_child=_after_fork_in_child)


def wait_background(timeout: float) -> bool:
    return _background.wait(timeout)


def _replayable(body) -> bool:
    # Bytes and strings can be sent again; a consumed iterator could not.
    return body is None or isinstance(body, (bytes, bytearray, str, list, tuple))


def monotonic() -> float:
    return time.monotonic()
