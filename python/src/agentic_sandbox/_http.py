"""A small keep-alive HTTP/1.1 connection over http.client (standard library only).

Not thread-safe: SandboxClient serialises calls with a lock.
"""

import http.client
import socket
import ssl
import time
import urllib.parse
from typing import Iterable, Optional, Tuple

from .exceptions import SandboxConnectionError, SandboxTimeoutError

# Errors that mean "the kept-alive connection was closed by the server while idle".
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          http.client.CannotSendRequest, http.client.BadStatusLine)


class Endpoint:
    """One base URL (http or https), a bearer token and a persistent connection."""

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
        self._ssl = None
        if parsed.scheme == "https":
            if ca_data:
                # The kubeconfig's CA is the only one this endpoint can present: trust just it.
                # (create_default_context would also load the system store, ~30 ms per client.)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and hostname
                ctx.load_verify_locations(cadata=ca_data.decode("ascii", "replace"))
            else:
                ctx = ssl.create_default_context()
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        self._conn = None

    def _new_connection(self, timeout: float):
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _unreachable(self, err) -> SandboxConnectionError:
        return SandboxConnectionError(
            "cannot reach the asb %s at %s (from %s): %s; is asbd running?"
            % (self.what, self.base_url, self.config_path, err))

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _headers(self, extra):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    def request(self, method: str, path: str, body=None, headers=None,
                timeout: Optional[float] = None) -> Tuple[int, dict, bytes]:
        """Sends one request on the kept-alive connection and reads the whole response.

        A connection the server closed while idle is replaced once, transparently. Raises
        SandboxConnectionError when the server can't be reached, SandboxTimeoutError when no
        answer arrives within `timeout` seconds."""
        timeout = self.timeout if timeout is None else timeout
        hdrs = self._headers(headers)
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._new_connection(timeout)
            conn = self._conn
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                else:
                    conn.timeout = timeout
                conn.request(method, self._prefix + path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                resp_headers = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                return status, resp_headers, data
            except _STALE as e:
                self.close()
                # Retry only a request that went out on a reused idle connection: on a fresh
                # connection the error is real.
                if reused and attempt == 0 and _replayable(body):
                    continue
                raise self._unreachable(e) from None
            except socket.timeout:
                self.close()
                raise SandboxTimeoutError(
                    "%s %s%s: no response from the asb %s within %gs"
                    % (method, self.base_url, path, self.what, timeout)) from None
            except (ConnectionError, OSError) as e:
                self.close()
                raise self._unreachable(e) from None
        raise AssertionError("unreachable")

    def open_stream(self, method: str, path: str, timeout: float):
        """Opens a dedicated connection for a long response (a watch). Returns (conn, resp);
        the caller reads resp line by line and closes conn."""
        conn = self._new_connection(timeout)
        try:
            conn.request(method, self._prefix + path, headers=self._headers(None))
            return conn, conn.getresponse()
        except socket.timeout:
            conn.close()
            raise SandboxTimeoutError(
                "%s %s%s: no response from the asb %s within %gs"
                % (method, self.base_url, path, self.what, timeout)) from None
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            conn.close()
            raise self._unreachable(e) from None


def _replayable(body) -> bool:
    # Bytes and strings can be sent again; a consumed iterator could not.
    return body is None or isinstance(body, (bytes, bytearray, str, list, tuple))


def monotonic() -> float:
    return time.monotonic()
