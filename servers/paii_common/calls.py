"""How every PAII tool call runs: one deadline, readable argument errors, no silent crashes.

:func:`paii_common.tools.register_tools` replaces each ``Tool`` the SDK built with a
:class:`PaiiTool` (same name, description, schemas, function: ``tools/list`` does not change).
Where mcp 2.x runs a call, ``Tool.run`` validates the arguments with the pydantic model it built
from the signature (``FuncMetadata.validate_arguments``) and then calls the function (a sync one
on a worker thread). :meth:`PaiiTool.run` wraps exactly that:

* **Deadline.** The whole call runs under ``anyio.fail_after``: ``read_timeout`` (PAII_READ_TIMEOUT,
  15 s) for a tool that only reads, ``write_timeout`` (PAII_WRITE_TIMEOUT, 30 s) for a writer. A
  sync function runs on a thread the call abandons at the deadline (a thread cannot be stopped;
  it finishes in the background and its result is dropped). On expiry a reader raises
  :class:`~paii_common.errors.DeadlineExceeded` ("retry later or narrow the request") and a writer
  :class:`~paii_common.errors.OutcomeUnknown` (the write may have happened: check before retrying).
* **Arguments.** A ``ValidationError`` of the arguments becomes
  :class:`~paii_common.errors.InvalidInput` naming each argument, what was expected (from the
  input schema) and an example when the schema has one, instead of pydantic's raw text and URL.
* **Crashes.** Anything that is not a :class:`~paii_common.errors.PaiiError` (the SDK reports it
  as a bare "Error executing tool X") becomes an error naming the exception's type and message
  (redacted, cut to a few hundred characters) that says it is a PAII bug and what to try; the
  traceback goes to the server's log (stderr). A PaiiError passes unchanged.
* **Results.** Every string of every result (the structured content and the text the model reads)
  goes through :func:`safe_value`: invisible and bidirectional characters out, a forged fence marker
  defanged (:func:`paii_common.untrusted.neutralise`), and secrets masked
  (:func:`paii_common.redact.redact`): one rule in one place, so no tool can forget it. Which
  fields are fenced or marked as other people's text is said by the result models' types.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from paii_common.errors import DeadlineExceeded, OutcomeUnknown
from paii_common.http import deadline, tool_budget
from paii_common.redact import redact
from paii_common.untrusted import neutralise

log = logging.getLogger("paii.calls")
#: one line per writer call, naming the actor (never the arguments): off unless a transport sets it to INFO
audit = logging.getLogger("paii.audit")

MAX_DETAIL = 300  # characters of an exception's message shown to the model


def safe_text(text: str, limit: int | None = None) -> str:
    """Redacted, cut, and encodable as UTF-8 (a lone surrogate would break the JSON-RPC reply)."""
    text = redact(neutralise(text))
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_value(value: Any) -> Any:
    """``value`` (JSON-like) with every string, keys included, neutralised and masked."""
    if isinstance(value, str):
        return redact(neutralise(value))
    if isinstance(value, dict):
        return {safe_value(k) if isinstance(k, str) else k: safe_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_value(v) for v in value]
    return value


def _safe_block(block: Any, structured: Any, safe: Any) -> Any:
    if not isinstance(block, TextContent):
        return block
    try:
        parsed = json.loads(block.text)
    except ValueError:
        parsed = None
    if isinstance(parsed, (dict, list)):  # a model's JSON: strings judged one by one, never key and value together
        text = json.dumps(safe if parsed == structured else safe_value(parsed), indent=2, ensure_ascii=False)
    else:
        text = redact(neutralise(block.text))
    return block if text == block.text else block.model_copy(update={"text": text})


def safe_result(result: Any) -> Any:
    """A tool's ``CallToolResult`` with :func:`safe_value` applied to all it says."""
    if not isinstance(result, CallToolResult):
        return result
    structured = result.structured_content
    safe = safe_value(structured) if structured is not None else None
    return result.model_copy(update={"structured_content": safe,
                                     "content": [_safe_block(b, structured, safe) for b in result.content]})


def _shown(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is still a value
        text = f"<{type(value).__name__}>"
    return safe_text(text, limit)


def _schema_type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        item = _schema_type(schema.get("items") or {})
        return f"a list of {item}" if item != "a value" else "a list"
    if kind:
        bounds = []
        for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if key in schema:
                bounds.append(f"{word} {schema[key]}")
        if "maxLength" in schema:
            bounds.append(f"at most {schema['maxLength']} characters")
        if "minLength" in schema:
            bounds.append(f"at least {schema['minLength']} characters")
        name = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
                "object": "an object"}.get(kind, kind)
        return name + (f" ({', '.join(bounds)})" if bounds else "")
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        return " or ".join(_schema_type(s) for s in options)
    if "$ref" in schema:
        return "an object"
    return "a value"


def _example(schema: dict[str, Any]) -> str | None:
    for source in [schema, *schema.get("anyOf", [])]:
        examples = source.get("examples")
        if examples:
            return _shown(examples[0], 80)
    return None


def describe_validation_error(exc: ValidationError, parameters: dict[str, Any]) -> str:
    """One sentence per bad argument: which, what was wrong, what is expected, an example."""
    props = parameters.get("properties") or {}
    parts = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p != "arguments"]
        arg = loc[0] if loc else "?"
        path = ".".join(loc) or "arguments"
        schema = props.get(arg) or {}
        expected = _schema_type(schema) if schema else None
        example = _example(schema) if schema else None
        if err.get("type") == "missing":
            text = f"`{path}` is required"
        else:
            msg = str(err.get("msg", "is invalid"))
            msg = msg[:1].lower() + msg[1:]
            text = f"`{path}`: {msg} (got {_shown(err.get('input'))})"
        if expected and len(loc) == 1:
            text += f"; expected {expected}"
        if example:
            text += f", e.g. {example}"
        parts.append(text)
    more = len(exc.errors()) - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "invalid arguments: " + "; ".join(parts) + ". Fix them and call the tool again."


def find_invalid_text(arguments: Any) -> tuple[str, str] | None:
    """The first string (key or value) that is not valid Unicode text: (its path, the bad character).

    JSON may escape a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a string that
    cannot be encoded as UTF-8, so it would crash the first file write, SQL query or HTTP request
    deep inside a tool. Walked iteratively: deeply nested arguments do not hit the recursion limit.
    """
    stack: list[tuple[str, Any]] = [("", arguments)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return path or "arguments", value[exc.start].encode("utf-8", "backslashreplace").decode()
        elif isinstance(value, dict):
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                stack.append((safe_text(sub, 60), key))
                stack.append((safe_text(sub, 60), item))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{n}]", item) for n, item in enumerate(value))
    return None


def bug_message(exc: BaseException) -> str:
    detail = safe_text(str(exc), MAX_DETAIL) or "no message"
    return (
        f"internal error {type(exc).__name__}: {detail}. This is a PAII bug, not a problem with your request "
        "or the service: try again with simpler arguments (smaller numbers, shorter text, fewer filters), "
        "and report it (`paii doctor` shows the version)."
    )


def still_awaited() -> bool:
    """In a tool's worker thread: False once the call's deadline has abandoned it (its answer goes nowhere,
    so a write's bookkeeping, such as "a repeat must not do it twice", must not be undone). True elsewhere."""
    import anyio.from_thread

    try:
        anyio.from_thread.check_cancelled()
    except anyio.get_cancelled_exc_class():
        return False
    except Exception:  # not in a worker thread (a test calling the function directly, the event loop)
        return True
    return True


def _in_thread(fn: Any) -> Any:
    """An async stand-in for a sync tool function that the deadline can abandon."""

    @functools.wraps(fn)
    async def run(**kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs), abandon_on_cancel=True)

    return run


class PaiiTool(Tool):
    """A ``Tool`` whose calls have a deadline and whose failures always say what went wrong."""

    deadline: float = 15.0
    writes: bool = False
    service: str = "paii"
    check: str | None = None  # how to find out whether a write happened (``@tool(check=...)``)

    @classmethod
    def wrap(cls, tool: Tool, *, deadline: float, writes: bool, service: str, check: str | None = None) -> PaiiTool:
        fields = {name: getattr(tool, name) for name in Tool.model_fields}
        if not tool.is_async:
            fields["fn"], fields["is_async"] = _in_thread(tool.fn), True
        return cls(**fields, deadline=deadline, writes=writes, service=service, check=check)

    def _error(self, message: str) -> ToolError:
        return ToolError(f"Error executing tool {self.name}: {safe_text(message)}")

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        if self.writes and audit.isEnabledFor(logging.INFO):  # who asked for which write (the HTTP transport turns it on)
            from paii_common.auth import actor

            audit.info("%s asks %s to %s", actor() or "a caller without a token", self.service, self.name)
        bad = find_invalid_text(arguments)
        if bad:
            raise self._error(
                f"invalid arguments: `{bad[0]}` contains {bad[1]}, a lone UTF-16 surrogate that is not valid "
                "Unicode text. Send the text as proper UTF-8 (remove or replace that character) and call the tool again."
            )
        try:
            # the clients' own deadline (paii_common.http), a little shorter: their precise error
            # ("PUT did not answer within 22 s; reading it back shows ...") comes before this one
            with anyio.fail_after(self.deadline), deadline(tool_budget(self.deadline)):
                result = await super().run(arguments, context, convert_result=convert_result)
            return safe_result(result)
        except TimeoutError:
            seconds = f"{self.deadline:g} s"
            if self.writes:
                err: Exception = OutcomeUnknown(
                    self.service, self.name, f"{self.name} did not finish within {seconds}",
                    check=((f"{self.check.rstrip('.')}: check it " if self.check else
                            f"read the current state with this server's read tools (get or list what {self.name} changes) ")
                           + "before calling it again; PAII_WRITE_TIMEOUT raises the limit."),
                )
            else:
                err = DeadlineExceeded(
                    f"{self.name} did not finish within {seconds}: the service (or the local index) is slow or "
                    "not answering. Retry later, or narrow the request (a shorter time window, fewer results); "
                    "PAII_READ_TIMEOUT raises the limit."
                )
            raise self._error(str(err)) from None
        except UnexpectedToolError as exc:
            cause = exc.__cause__ or exc
            log.error("tool %s crashed (a PAII bug)", self.name, exc_info=cause)
            raise self._error(bug_message(cause)) from cause
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise self._error(describe_validation_error(exc.__cause__, self.parameters)) from exc.__cause__
            text = str(exc)
            if safe_text(text) != text:  # e.g. a lone surrogate echoed from the arguments
                raise self._error(text.removeprefix(f"Error executing tool {self.name}: ")) from exc
            raise
