"""Plain data returned by the client, mirroring the runtime's JSON.

Written out by hand rather than with @dataclass: importing dataclasses (and the inspect module
it pulls in) cost ~5 ms of every script's start-up, about an eighth of importing this package.
Each class compares by value and prints as its constructor call, as a dataclass would.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is ~2 ms of an import, for annotations alone
if TYPE_CHECKING:
    from typing import Optional



class _Record:
    __slots__ = ()

    def _values(self):
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # mutable, like a dataclass without frozen=True

    def __repr__(self):
        return "%s(%s)" % (self.__class__.__name__,
                           ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.__slots__))


class ExecutionResult(_Record):
    """Result of SandboxClient.run: the command's captured output and exit code."""

    __slots__ = ("stdout", "stderr", "exit_code")

    def __init__(self, stdout: str = "", stderr: str = "", exit_code: int = -1):
        self.stdout = stdout
        self.stderr = stderr
        self.exit_code = exit_code


class FileEntry(_Record):
    """One entry of SandboxClient.list."""

    __slots__ = ("name", "size", "type", "mod_time")

    def __init__(self, name: str, size: int = 0, type: str = "file",  # noqa: A002
                 mod_time: float = 0.0):
        self.name = name
        self.size = size
        self.type = type  # "file" | "directory"
        self.mod_time = mod_time


class AsbConfig(_Record):
    """Where asbd is and how to authenticate, as read from its kubeconfig."""

    __slots__ = ("path", "server", "token", "router_url", "namespace", "ca_data",
                 "insecure_skip_tls_verify", "extra")

    def __init__(self, path: str, server: str, token: Optional[str] = None,
                 router_url: Optional[str] = None, namespace: str = "default",
                 ca_data: Optional[bytes] = None, insecure_skip_tls_verify: bool = False,
                 extra: Optional[dict] = None):
        self.path = path
        self.server = server
        self.token = token
        self.router_url = router_url
        self.namespace = namespace
        self.ca_data = ca_data
        self.insecure_skip_tls_verify = insecure_skip_tls_verify
        self.extra = {} if extra is None else extra

    def __repr__(self):
        # Never print the bearer token (a repr lands in logs and tracebacks).
        shown = "'***'" if self.token else "None"
        return super().__repr__().replace("token=%r" % (self.token,), "token=" + shown, 1)
