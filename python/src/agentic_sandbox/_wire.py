"""HTTP/1.1 on one socket: what this client needs, and no more (standard library only).

Why not http.client: importing it pulls in the email package to parse headers, ~10 ms of every
script's start-up (a quarter of importing this package), for features the client never uses.
This speaks the plain subset asbd's API server and router use: one request at a time on a
kept-alive connection, bodies framed by Content-Length or chunked transfer coding (or, from an
HTTP/1.0-style server, by the close), and a line reader over a chunked body for watches.

Limits keep a misbehaving server from making the client allocate without bound: 64 KiB for the
status line and headers, 100 headers.
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False  # typing is ~2 ms of an import, for annotations alone
if TYPE_CHECKING:
    from typing import Optional

_MAX_HEAD = 64 << 10
_MAX_HEADERS = 100
_RECV = 64 << 10


class RemoteClosed(ConnectionError):
    """The server closed the connection before a response began (an idle keep-alive close)."""


class ProtocolError(OSError):
    """The server's bytes are not an HTTP/1.1 response this client can read."""


# Connection._response between send() and read_response(): a request is out, its answer unread.
_SENT = object()


class Connection:
    """One TCP (optionally TLS) connection. Not thread-safe."""

    def __init__(self, host: str, port: int, timeout: float, tls=None, session_for=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self._tls = tls                  # ssl.SSLContext or None
        self._session_for = session_for  # () -> ssl.SSLSession to resume, or None
        self.sock = None
        self._buf = bytearray()
        self._response = None  # the Response whose body is still being read

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                session = self._session_for() if self._session_for else None
                sock = self._tls.wrap_socket(sock, server_hostname=self.host, session=session)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._buf.clear()
        self._response = None
        if sock is not None:
            sock.close()

    def idle(self) -> bool:
        """True when the last response was read to its end and nothing more arrived with it."""
        return self.sock is not None and self._response is None and not self._buf

    def settimeout(self, timeout: float) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    # ---- request --------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: dict, body=None) -> "Response":
        """Sends a request and reads the response's status line and headers. `body`: None,
        bytes/str, or a list of byte strings (sent in turn; give Content-Length in `headers`)."""
        self.send(method, target, headers, body)
        return self.read_response(method)

    def send(self, method: str, target: str, headers: dict, body=None) -> None:
        """The sending half of request(): read_response(method) reads the answer, later and
        possibly on another thread (never both halves at once)."""
        if self._response is not None:
            raise ProtocolError("a request was sent before the last response was read")
        if self.sock is None:
            self.connect()
        if isinstance(body, str):
            body = body.encode("utf-8")
        lines = ["%s %s HTTP/1.1" % (method, target), "Host: %s" % self._host_header()]
        names = {k.lower() for k in headers}
        for k, v in headers.items():
            lines.append("%s: %s" % (k, v))
        if body is not None and "content-length" not in names:
            size = len(body) if isinstance(body, (bytes, bytearray)) else sum(map(len, body))
            lines.append("Content-Length: %d" % size)
        elif body is None and method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if isinstance(body, (bytes, bytearray)):
            # One write for a small request: two would cost a second segment for nothing.
            if len(body) <= 16 << 10:
                self.sock.sendall(head + body)
            else:
                self.sock.sendall(head)
                self.sock.sendall(body)
        else:
            self.sock.sendall(head)
            for part in body or ():
                self.sock.sendall(part)
        self._response = _SENT

    def read_response(self, method: str) -> "Response":
        """The status line and headers of the answer to the request send() sent."""
        self._response = None
        return self._read_head(method)

    def _host_header(self) -> str:
        default = 443 if self._tls is not None else 80
        host = "[%s]" % self.host if ":" in self.host else self.host
        return host if self.port == default else "%s:%d" % (host, self.port)

    # ---- response -------------------------------------------------------------------------

    def _fill(self) -> bool:
        chunk = self.sock.recv(_RECV)
        if not chunk:
            return False
        self._buf += chunk
        return True

    def _line(self, limit: int) -> Optional[bytes]:
        """The next CRLF-terminated line without its terminator; None at EOF before any byte."""
        start = 0
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[:i + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._buf) > limit:
                raise ProtocolError("response line longer than %d bytes" % limit)
            start = len(self._buf)
            if not self._fill():
                if self._buf:
                    raise ProtocolError("connection closed in the middle of a line")
                return None

    def _exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed %d bytes before the body's end"
                                    % (n - len(self._buf)))
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _read_head(self, method: str) -> "Response":
        while True:
            status_line = self._line(_MAX_HEAD)
            if status_line is None:
                raise RemoteClosed("the server closed the connection without a response")
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError("not an HTTP/1.x status line: %r" % status_line[:100])
            status = int(parts[1])
            headers = {}
            size = len(status_line)
            while True:
                line = self._line(_MAX_HEAD)
                if line is None:
                    raise ProtocolError("connection closed in the response headers")
                if not line:
                    break
                size += len(line)
                if size > _MAX_HEAD or len(headers) >= _MAX_HEADERS:
                    raise ProtocolError("response headers over %d bytes or %d fields"
                                        % (_MAX_HEAD, _MAX_HEADERS))
                name, sep, value = line.partition(b":")
                if not sep or not name or name[:1] in (b" ", b"\t"):
                    raise ProtocolError("malformed header line: %r" % line[:100])
                key = name.decode("latin-1").strip().lower()
                value = value.decode("latin-1").strip()
                headers[key] = headers[key] + ", " + value if key in headers else value
            if 100 <= status < 200 and status != 101:
                continue  # an interim response (100 Continue): the real one follows
            break
        resp = Response(self, status, headers, parts[0] == b"HTTP/1.0", method)
        self._response = resp if not resp._done else None
        return resp


class Response:
    """A response's status and headers; its body is read with read() or readline()."""

    def __init__(self, conn: Connection, status: int, headers: dict, http10: bool, method: str):
        self._conn = conn
        self.status = status
        self.headers = headers  # lower-case names
        connection = headers.get("connection", "").lower()
        self.will_close = "close" in connection or (http10 and "keep-alive" not in connection)
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left = None  # bytes left of a Content-Length body, or of the current chunk
        self._pending = bytearray()  # readline's bytes past the last line it returned
        if method == "HEAD" or status in (204, 304):
            self._done = True
        elif self._chunked:
            self._done = False
        elif "content-length" in headers:
            try:
                self._left = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length %r" % headers["content-length"]) from None
            if self._left < 0:
                raise ProtocolError("bad Content-Length %r" % headers["content-length"])
            self._done = self._left == 0
        else:
            self.will_close = True  # the body ends when the server closes
            self._done = False

    def _finish(self):
        self._done = True
        if self._conn._response is self:
            self._conn._response = None

    def _next_piece(self) -> bytes:
        """The next part of the body (b"" at its end)."""
        conn = self._conn
        if self._done:
            return b""
        if self._chunked:
            if not self._left:
                size_line = conn._line(1024)
                if size_line is None:
                    raise ProtocolError("connection closed before a chunk")
                try:
                    self._left = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError("bad chunk size line %r" % size_line[:40]) from None
                if self._left == 0:
                    while True:  # trailers, up to the blank line
                        line = conn._line(_MAX_HEAD)
                        if not line:
                            break
                    self._finish()
                    return b""
            if not conn._buf and not conn._fill():
                raise ProtocolError("connection closed in a chunk")
            piece = bytes(conn._buf[:self._left])
            del conn._buf[:len(piece)]
            self._left -= len(piece)
            if self._left == 0 and conn._exact(2) != b"\r\n":
                raise ProtocolError("a chunk does not end with CRLF")
            return piece
        if self._left is not None:
            if not conn._buf and not conn._fill():
                raise ProtocolError("connection closed %d bytes before the body's end"
                                    % self._left)
            piece = bytes(conn._buf[:self._left])
            del conn._buf[:len(piece)]
            self._left -= len(piece)
            if self._left == 0:
                self._finish()
            return piece
        # Delimited by the close.
        if not conn._buf and not conn._fill():
            self._finish()
            return b""
        piece = bytes(conn._buf)
        conn._buf.clear()
        return piece

    def read(self) -> bytes:
        """The rest of the body."""
        out = bytearray()
        while True:
            piece = self._next_piece()
            if not piece:
                return bytes(out)
            out += piece

    def readline(self) -> bytes:
        """The body's next line with its b"\\n" (b"" at the end of the body). For a chunked
        body the line may span chunks; bytes past it stay buffered for the next call."""
        pending = self._pending
        while True:
            i = pending.find(b"\n")
            if i >= 0:
                line = bytes(pending[:i + 1])
                del pending[:i + 1]
                return line
            piece = self._next_piece()
            if not piece:
                line = bytes(pending)
                pending.clear()
                return line
            pending += piece

    def getheaders(self):
        return list(self.headers.items())
