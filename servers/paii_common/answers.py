"""A vendor's answer is checked against the shape the client needs; a write's lost answer is read back.

A 200 whose body lacks what the client reads (a proxy's page, an API that changed, an answer cut
short) is not success. :func:`expect` validates an answer with a pydantic model of the fields the
client uses (:class:`Answer`: only those fields, anything else kept) and, when it does not fit,
raises one error whose words are the same for every service:

* for a read, :class:`UnexpectedAnswer`: "Jira answered with something unexpected (`key` is
  missing)", and that the read changed nothing;
* for a write, :class:`UnexpectedWrite`, an :class:`~paii_common.errors.OutcomeUnknown`: the
  service may have made the change; it says how to check. The tools that read their writes back
  catch it like any lost answer.

:func:`read_back` runs the read that shows whether a write happened: when that read fails too, the
answer is still "the outcome is unknown" (never the read's own "this read changed nothing").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from paii_common.errors import OutcomeUnknown, PaiiError, UpstreamError

T = TypeVar("T")
MAX_PROBLEMS = 2


class Answer(BaseModel):
    """A vendor answer's model: the fields a client reads (required when it cannot do without them)."""

    model_config = ConfigDict(extra="allow", defer_build=True)


def unexpected(service: str, detail: str) -> str:
    """The words every integration uses: ``Jira answered with something unexpected (detail)``."""
    return f"{service} answered with something unexpected ({detail})"


class UnexpectedAnswer(UpstreamError):
    """A read's answer did not have the shape the client needs; nothing was changed."""

    def __init__(self, service: str, call: str, detail: str, *, hint: str | None = None) -> None:
        self.detail = unexpected(service, detail)
        super().__init__(
            service, call, self.detail,
            hint=hint or (f"This read changed nothing: retry in a minute. If it keeps happening, check that PAII is "
                          f"pointed at {service} itself (its URL or kubeconfig), not a proxy or a login page: `paii doctor`."),
        )


class UnexpectedWrite(OutcomeUnknown):
    """A write's answer did not have the shape the client needs: it may or may not have been made."""

    def __init__(self, service: str, call: str, detail: str, *, check: str) -> None:
        self.detail = unexpected(service, detail)
        super().__init__(service, call, self.detail, check=check)


@functools.lru_cache(maxsize=256)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def problems(exc: ValidationError) -> str:
    """What is wrong with an answer, by field, never quoting its values: "`key` is missing"."""
    parts = []
    for err in exc.errors()[:MAX_PROBLEMS]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        field = f"`{where}`" if where else "the answer"
        if err.get("type") == "missing":
            parts.append(f"{field} is missing")
        else:
            msg = str(err.get("msg") or "is invalid")
            parts.append(f"{field}: {msg[:1].lower() + msg[1:]}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def expect(model: Any, data: Any, *, service: str, call: str, write: bool = False, check: str | None = None) -> Any:
    """``data`` validated as ``model`` (a pydantic model or a type such as ``list[dict]``), or an
    :class:`UnexpectedAnswer` (a read) / :class:`UnexpectedWrite` (``write``: ``check`` says how to
    find out whether it happened)."""
    try:
        return _adapter(model).validate_python(data)
    except ValidationError as exc:
        detail = problems(exc)
    if write:
        raise UnexpectedWrite(service, call, detail,
                              check=check or "read the current state with this server's read tools before retrying.")
    raise UnexpectedAnswer(service, call, detail)


def first_sentence(exc: BaseException) -> str:
    return str(exc).split(". ", 1)[0].rstrip(".")


def read_back(lost: OutcomeUnknown, read: Callable[[], T], *, service: str, call: str, check: str) -> T:
    """``read()``, the read that shows whether a write whose answer was lost happened. If it fails
    too, an :class:`OutcomeUnknown` that says so and how to check (``check``)."""
    try:
        return read()
    except PaiiError as exc:
        detail = getattr(lost, "detail", None) or "its answer was lost"
        raise OutcomeUnknown(service, call, detail, status=getattr(lost, "status", None),
                             check=f"reading it back failed too ({first_sentence(exc)}). {check}") from None
