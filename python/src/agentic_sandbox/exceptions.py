"""Every error the client raises. All subclass SandboxError (a RuntimeError, as upstream's
v0.1.0 client raised RuntimeError), so `except SandboxError` catches them all."""


class SandboxError(RuntimeError):
    """Base class of all agentic_sandbox errors."""


class SandboxConnectionError(SandboxError, ConnectionError):
    """asbd (API server or router) could not be reached, or the kubeconfig is missing/unusable."""


class SandboxUnauthorizedError(SandboxError):
    """The API server or router rejected the bearer token (HTTP 401/403)."""


class SandboxTemplateNotFoundError(SandboxError):
    """The claim names a SandboxTemplate that does not exist (claim reason TemplateNotFound)."""


class SandboxWarmPoolNotFoundError(SandboxError):
    """The claim names a SandboxWarmPool that does not exist (claim reason WarmPoolNotFound)."""


class SandboxClaimFailedError(SandboxError):
    """The claim reached a terminal failure (expired, invalid metadata, deleted, ...)."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason


class SandboxNotReadyError(SandboxError):
    """An operation needs a ready sandbox (call inside the `with` block)."""


class SandboxTimeoutError(SandboxError, TimeoutError):
    """A deadline passed: sandbox_ready_timeout while waiting for Ready, or a request timeout."""


class SandboxRequestError(SandboxError):
    """The router or the sandbox answered with an unexpected HTTP status.

    status_code: the HTTP status; body: the response body as text (also available as
    `response` for compatibility with upstream's SDK)."""

    def __init__(self, message, status_code, body=""):
        super().__init__(message)
        self.status_code = status_code
        self.body = body

    @property
    def response(self):
        return self.body
