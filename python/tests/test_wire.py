"""The HTTP/1.1 reader (_wire.py) against a socket server that sends exactly the bytes a test
scripts: framings asbd and other servers use, split at awkward places, and malformed input."""

import socket
import threading

import pytest

from agentic_sandbox import _wire


class ScriptedServer:
    """Accepts connections on 127.0.0.1:0; each connection reads one request head per scripted
    reply and sends that reply's pieces one send() at a time (so a test controls the splits)."""

    def __init__(self, replies, close_after=True):
        self.replies = list(replies)
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.close_after = close_after
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        buf = b""
        for reply in self.replies:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(buf) < length:
                buf += conn.recv(65536)
            self.requests.append((head, buf[:length]))
            buf = buf[length:]
            for piece in reply:
                conn.sendall(piece)
        if self.close_after:
            conn.close()
        else:
            self.held = conn

    def connect(self):
        c = _wire.Connection("127.0.0.1", self.port, 5)
        c.connect()
        return c


def test_content_length_bodies_keep_the_connection_for_the_next_request():
    srv = ScriptedServer([
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhel", b"lo"],
        [b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"],
    ])
    c = srv.connect()
    r = c.request("GET", "/a", {"Authorization": "Bearer t"})
    assert (r.status, r.headers["x-a"], r.read()) == (200, "1", b"hello")
    assert c.idle() and not r.will_close
    r = c.request("POST", "/b", {"Content-Type": "application/json"}, b'{"x":1}')
    assert (r.status, r.read()) == (201, b"")
    head, body = srv.requests[1]
    assert head.startswith(b"POST /b HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % srv.port)
    assert b"\r\nContent-Length: 7" in head and body == b'{"x":1}'


def test_chunked_body_split_everywhere_with_extensions_and_trailers():
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
    srv = ScriptedServer([[wire[i:i + 1] for i in range(len(wire))],
                          [b"HTTP/1.1 204 No Content\r\n\r\n"]])
    c = srv.connect()
    r = c.request("GET", "/", {})
    assert r.read() == b"wikipedia"
    assert c.idle()
    r = c.request("DELETE", "/x", {})
    assert (r.status, r.read()) == (204, b"")


def test_readline_spans_chunks_like_a_watch_stream():
    srv = ScriptedServer([[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                           b"6\r\n{\"a\":1\r\n", b"3\r\n}\n{\r\n", b"7\r\n\"b\":2}\n\r\n",
                           b"0\r\n\r\n"]])
    r = srv.connect().request("GET", "/watch", {})
    assert r.readline() == b'{"a":1}\n'
    assert r.readline() == b'{"b":2}\n'
    assert r.readline() == b""


def test_interim_100_continue_is_skipped_and_head_or_204_have_no_body():
    srv = ScriptedServer([
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"],  # HEAD: length, no body
        [b"HTTP/1.1 204 No Content\r\n\r\n"],
    ])
    c = srv.connect()
    assert c.request("GET", "/", {}).read() == b"ok"
    assert c.request("HEAD", "/", {}).read() == b"" and c.idle()
    assert c.request("GET", "/", {}).status == 204 and c.idle()


def test_close_delimited_body_and_connection_close():
    srv = ScriptedServer([[b"HTTP/1.0 200 OK\r\n\r\nall of ", b"it"]])
    r = srv.connect().request("GET", "/", {})
    assert r.will_close and r.read() == b"all of it"
    srv = ScriptedServer([[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"]])
    assert srv.connect().request("GET", "/", {}).will_close


def test_a_list_body_is_sent_in_parts_with_its_total_length():
    srv = ScriptedServer([[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]])
    srv.connect().request("POST", "/upload", {}, [b"--b\r\n", b"x" * 100000, b"\r\n--b--\r\n"])
    head, body = srv.requests[0]
    assert b"Content-Length: %d" % len(body) in head and len(body) == 5 + 100000 + 9


def test_server_closing_an_idle_connection_is_remote_closed():
    srv = ScriptedServer([[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]])
    c = srv.connect()
    c.request("GET", "/", {}).read()
    srv.thread.join()
    with pytest.raises((_wire.RemoteClosed, BrokenPipeError, ConnectionResetError)):
        c.request("GET", "/", {}).read()


@pytest.mark.parametrize("reply,message", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (70 << 10), "longer than"),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n",
     "fields"),
    (b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX", "CRLF"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "before the body's end"),
])
def test_malformed_responses_are_protocol_errors_not_hangs_or_huge_buffers(reply, message):
    srv = ScriptedServer([[reply]])
    c = srv.connect()
    with pytest.raises(_wire.ProtocolError, match=message):
        c.request("GET", "/", {}).read()
