"""The one error family every PAII tool raises.

Every class here is a ``ToolError``: the MCP SDK turns it into an ``is_error`` result whose
text the model reads and acts on; there is never a stack trace in it. Each message says what
went wrong *and what to do next*. Messages pass through :func:`redact` before they leave, so
a token that slipped into an upstream error body never reaches the model or a log.

Hierarchy::

    PaiiError (ToolError)
    ├── InvalidInput      bad arguments: say which and what is accepted
    ├── NotFound          the thing does not exist: say how to find valid ids
    ├── NotConfigured     a required setting is missing: name the variable
    ├── Conflict          the request clashes with stored state
    ├── DeadlineExceeded  a reading call ran past PAII_READ_TIMEOUT: retry later or narrow it
    └── UpstreamError     the remote service failed: which call, what it said, what to do
        ├── RateLimited   429 after bounded retries: when to retry
        └── OutcomeUnknown a write was sent but no answer came: it may have happened; how to find out
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from paii_common.http import READS, attempts_text
from paii_common.redact import redact


class PaiiError(ToolError):
    """Base of every error a PAII tool raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        text = message if not hint else f"{message} {hint}"
        super().__init__(redact(text))
        self.hint = hint


class InvalidInput(PaiiError):
    """The arguments are wrong; the message names the argument and what is accepted."""


class NotFound(PaiiError):
    """The requested item does not exist."""


class Conflict(PaiiError):
    """The request clashes with what is stored."""


class DeadlineExceeded(PaiiError):
    """A call that only reads did not finish within its deadline (``PAII_READ_TIMEOUT``); nothing changed."""


class NotConfigured(PaiiError):
    """A required setting is missing."""

    def __init__(self, service: str, *variables: str, doc: str | None = None) -> None:
        names = " or ".join(variables)
        msg = f"{service} is not configured: set {names}"
        msg += " (Claude Code: /plugin configure paii; other clients: the server's environment or ~/.config/paii/.env)."
        msg += " Run `paii doctor` to see what is missing."
        if doc:
            msg += f" {doc}"
        super().__init__(msg)
        self.variables = variables


class UpstreamError(PaiiError):
    """A remote API call failed after the retry policy gave up."""

    def __init__(
        self,
        service: str,
        call: str,
        detail: str,
        *,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{service} {call}"
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{where} failed{code}: {detail}.", hint=hint)
        self.service = service
        self.call = call
        self.status = status


class RateLimited(UpstreamError):
    """429 after the bounded retries."""

    def __init__(self, service: str, call: str, *, attempts: int, retry_after: float | None) -> None:
        wait = f"retry after {retry_after:.0f} s" if retry_after else "retry in a minute"
        super().__init__(
            service,
            call,
            f"rate limited {attempts_text(attempts)}",
            status=429,
            hint=f"Wait and {wait}; do not loop on this call.",
        )
        self.retry_after = retry_after


def hint_for_status(status: int | None, *, method: str | None = None, write: bool | None = None) -> str | None:
    """A default next step for common HTTP statuses.

    For a 5xx the hint depends on whether the call could have changed something: give the
    HTTP ``method`` (or ``write``). Without either, the hint never claims that nothing changed.
    """
    if write is None and method is not None:
        write = method.upper() not in READS
    return {
        400: "The request was rejected as malformed: check the arguments against the tool description.",
        401: "The token was rejected: check it is valid and not expired (`paii doctor`).",
        403: "The token lacks permission for this call: ask an admin for the scope, or use a read-only tool.",
        404: "Nothing exists at that id: list the items first to get a valid id.",
        409: "The item changed or already exists: fetch it again and retry.",
        422: "The service refused the values: check ids and field values.",
    }.get(status or 0) or (
        {
            True: "The service failed mid-write: the change may or may not have happened; read the current state before retrying.",
            False: "The service is failing: retry later; this read changed nothing.",
            None: "The service is failing: a read can be retried later; after a write, read the current state before retrying.",
        }[write]
        if status and status >= 500
        else None
    )


class OutcomeUnknown(UpstreamError):
    """A write was sent but its result never came back (timeout, dropped connection, 5xx).

    It may or may not have taken effect. ``check`` says how to find out (the read that shows the
    truth); the model must not simply retry.
    """

    def __init__(self, service: str, call: str, detail: str, *, check: str, status: int | None = None) -> None:
        super().__init__(
            service,
            call,
            f"{detail}; the change may or may not have been made",
            status=status,
            hint=f"Do not retry blindly: {check}",
        )
        self.detail = detail  # what happened, without the advice (a read back that fails too repeats it)
