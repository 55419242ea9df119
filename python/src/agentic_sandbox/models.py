"""Plain data returned by the client (dataclasses mirroring the runtime's JSON)."""

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class ExecutionResult:
    """Result of SandboxClient.run: the command's captured output and exit code."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = -1


@dataclass
class FileEntry:
    """One entry of SandboxClient.list."""

    name: str
    size: int = 0
    type: str = "file"  # "file" | "directory"
    mod_time: float = 0.0


@dataclass
class AsbConfig:
    """Where asbd is and how to authenticate, as read from its kubeconfig."""

    path: str
    server: str
    token: Optional[str] = None
    router_url: Optional[str] = None
    namespace: str = "default"
    ca_data: Optional[bytes] = None
    insecure_skip_tls_verify: bool = False
    extra: dict = field(default_factory=dict)
