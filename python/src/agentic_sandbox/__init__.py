"""agentic_sandbox: standard-library client for asb agent sandboxes.

    from agentic_sandbox import SandboxClient
    with SandboxClient(template_name="python-runtime-template", namespace="default") as sb:
        print(sb.run("echo 'Hello from the sandboxed environment!'").stdout)
"""

from .client import Sandbox, SandboxClient, wait_for_cleanup
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
from .kubeconfig import default_kubeconfig_path, load_config
from .models import ExecutionResult, FileEntry

__version__ = "0.1.0"

__all__ = [
    "SandboxClient",
    "Sandbox",
    "ExecutionResult",
    "FileEntry",
    "SandboxError",
    "SandboxConnectionError",
    "SandboxUnauthorizedError",
    "SandboxTemplateNotFoundError",
    "SandboxWarmPoolNotFoundError",
    "SandboxClaimFailedError",
    "SandboxNotReadyError",
    "SandboxTimeoutError",
    "SandboxRequestError",
    "default_kubeconfig_path",
    "load_config",
    "wait_for_cleanup",
]
