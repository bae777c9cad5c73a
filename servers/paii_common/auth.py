"""Who is calling: bearer tokens for the HTTP transport, and the actor every write records.

**The tokens file** (``PAII_AUTH_TOKENS_FILE``, default ``<config dir>/tokens``) has one token a
line; ``paii auth add NAME`` appends one and prints it once::

    alice:Q3k...                       a token as it is sent (Authorization: Bearer Q3k...)
    bob:sha256:9f86d08...              only the token's SHA-256 (64 hex digits) is stored
    stakeholder:Zx9...:read-only       may call the tools that read, never one that writes

Blank lines and lines starting with ``#`` are ignored; a line that is none of these is skipped
and logged by its line number (never its text). A name may have several lines (a token being
rotated). The file is read on every request and parsed again when its content changes (its
SHA-256: a file rewritten in place with the same size and an old mtime is still seen), so a token
removed from it is refused from the next request on; a missing or empty file refuses every token. A token is compared by its SHA-256 digest with :func:`hmac.compare_digest`
against every line, without stopping at the first match.

**Checking** is the MCP SDK's own: :class:`FileTokenVerifier` is a ``TokenVerifier`` that
:mod:`paii_common.transport` hands to the SDK's bearer middleware (``AuthSettings``); a missing or
wrong token gets the SDK's 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` before any
MCP message is read. The token's name is the ``AccessToken.client_id`` and its rights are scopes
(``paii:read``, and ``paii:write`` unless the line says ``read-only``).

**The actor** (:func:`actor`) is the name a write records (a history entry's ``author``, a git
commit's author, a runbook run's caller): the authenticated name of the current HTTP request
(``get_access_token()``, per request); over stdio the local user (``$USER``), whom the process runs
as. An HTTP server sets the local actor to None at start, so a request without a token never
borrows anyone's name.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("paii.auth")

READ_SCOPE = "paii:read"
WRITE_SCOPE = "paii:write"
READ_ONLY_MARK = "read-only"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
HEX_RE = re.compile(r"^[0-9a-f]{64}$")
NAME_RULE = "1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (e.g. alice)"
TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits


# Imported by every server before `initialize` is answered (the actor): the standard modules only
# the HTTP transport or `paii auth` need (hashlib, hmac, secrets, tempfile, getpass) load on use.


def digest(token: str) -> bytes:
    import hashlib

    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class TokenEntry:
    """One line of the tokens file: a name, the SHA-256 of its token, its rights."""

    name: str
    digest: bytes
    read_only: bool = False
    hashed: bool = False  # stored as sha256:<hex> (else the token itself is in the file)
    line: int = 0


def parse_line(text: str, number: int = 0) -> TokenEntry | None:
    """The entry a line holds, None for a blank line or a comment; ValueError (without the
    line's text, which may hold a token) when it is neither."""
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(":")
    read_only = len(parts) > 2 and parts[-1] == READ_ONLY_MARK
    if read_only:
        parts = parts[:-1]
    if not NAME_RE.match(parts[0]):
        raise ValueError(f"line {number}: the name is not {NAME_RULE}")
    if len(parts) == 3 and parts[1] == "sha256":
        if not HEX_RE.match(parts[2].lower()):
            raise ValueError(f"line {number}: sha256: must be followed by 64 hex digits")
        return TokenEntry(parts[0], bytes.fromhex(parts[2]), read_only, hashed=True, line=number)
    if len(parts) == 2 and parts[1]:
        return TokenEntry(parts[0], digest(parts[1]), read_only, line=number)
    raise ValueError(f"line {number}: expected name:token, name:sha256:<hex>, either followed by :read-only")


def parse_tokens(text: str) -> tuple[list[TokenEntry], list[str]]:
    """Every entry of a tokens file and a problem per line that is not one."""
    entries, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entry = parse_line(line, number)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if entry:
            entries.append(entry)
    return entries, problems


def plain_tokens(text: str) -> list[str]:
    """The tokens written as they are (not hashed), for log redaction."""
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) >= 2 and parts[1] != "sha256" and not line.strip().startswith("#"):
            out.append(parts[1])
    return [t for t in out if len(t) >= 8]


MAX_TOKENS_FILE = 1 << 20  # a tokens file is a few lines; a bigger one is refused whole


class TokenFile:
    """The tokens file, read on every :meth:`entries` call and parsed again when its content changes.

    The cache is keyed on the SHA-256 of the bytes read, never on the file's metadata: an edit in
    place that keeps the size and puts the old mtime back still takes effect at the next request."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._loaded = False
        self._key: bytes | str | None = None
        self._entries: list[TokenEntry] = []
        self._lock = threading.Lock()

    def _content(self) -> tuple[bytes | str, bytes | None]:
        """(the cache key, the file's bytes): the key is the content's SHA-256, or why there is none."""
        import hashlib

        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_TOKENS_FILE + 1)
        except FileNotFoundError:
            return "missing", None
        except OSError as exc:
            return f"unreadable: {type(exc).__name__}", None
        if len(raw) > MAX_TOKENS_FILE:
            return "too big", None
        return hashlib.sha256(raw).digest(), raw

    def entries(self) -> list[TokenEntry]:
        key, raw = self._content()
        if self._loaded and key == self._key:
            return self._entries
        with self._lock:
            if self._loaded and key == self._key:
                return self._entries
            reloaded, self._loaded, self._key = self._loaded, True, key
            self._entries = self._read(key, raw)
            if reloaded:
                log.info("tokens file %s changed: %d tokens", self.path, len(self._entries))
            return self._entries

    def _read(self, key: bytes | str, raw: bytes | None) -> list[TokenEntry]:
        if key == "missing":
            log.warning("tokens file %s is missing: every request is refused until it exists "
                        "(`paii auth add NAME` creates it)", self.path)
            return []
        if raw is None:
            log.warning("tokens file %s cannot be used (%s): every request is refused", self.path, key)
            return []
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("tokens file %s is not UTF-8: every request is refused", self.path)
            return []
        from paii_common.redact import register_secret

        register_secret(*plain_tokens(text))
        entries, problems = parse_tokens(text)
        for problem in problems:
            log.warning("tokens file %s: %s: skipped", self.path, problem)
        return entries

    def match(self, token: str) -> TokenEntry | None:
        """The entry whose token this is, or None; every entry is compared (constant time)."""
        import hmac

        wanted = digest(token)
        found = None
        for entry in self.entries():
            if hmac.compare_digest(entry.digest, wanted) and found is None:
                found = entry
        return found


class FileTokenVerifier:
    """The SDK's ``TokenVerifier`` protocol over a :class:`TokenFile`."""

    def __init__(self, tokens: TokenFile) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        entry = self.tokens.match(token)
        if entry is None:
            return None
        scopes = [READ_SCOPE] if entry.read_only else [READ_SCOPE, WRITE_SCOPE]
        # never the token itself: the AccessToken travels with the request (logs, errors)
        return AccessToken(token=f"{entry.name}#line{entry.line}", client_id=entry.name, scopes=scopes)


# ---------------------------------------------------------------------------- the actor
_UNSET = object()
_local: Any = _UNSET


def local_user() -> str | None:
    import getpass

    try:
        return getpass.getuser() or None
    except Exception:  # no user database entry (some containers)
        return None


def set_local_actor(name: Any) -> Any:
    """Who a call without a token is: the local user over stdio (the default); None over HTTP
    (no one). Returns the previous setting, which can be given back to restore it."""
    global _local
    previous, _local = _local, name
    return previous


def _access_token() -> Any:
    from mcp.server.auth.middleware.auth_context import get_access_token

    return get_access_token()


def actor() -> str | None:
    """The name to record for the current call: the HTTP request's token name, else the local
    actor (the local user unless the HTTP transport set it to None)."""
    token = _access_token()
    if token is not None:
        return token.client_id
    return local_user() if _local is _UNSET else _local


def authenticated_name() -> str | None:
    """The current HTTP request's token name; None over stdio and for a request without a token."""
    token = _access_token()
    return token.client_id if token is not None else None


def over_http() -> bool:
    """Whether this process serves HTTP (the transport set the local actor to no one): a call
    without a token then has no name, and nothing may stand in for one."""
    return _local is None


def caller_may_write() -> bool:
    """False when the current HTTP request's token is read-only."""
    token = _access_token()
    return token is None or WRITE_SCOPE in token.scopes


def read_only_refusal(tool: str) -> str:
    who = actor() or "this token"
    return (f"{tool} writes, and the token of {who!r} is read-only: it may call the tools that read. "
            f"Ask whoever runs this PAII server for a token that may write (paii auth add NAME, without --read-only).")


def _is_writer(server: Any, name: str) -> bool:
    tool = server._tool_manager.get_tool(name) if hasattr(server, "_tool_manager") else None  # mcp 2.x (mcp<3 is pinned)
    if tool is None:
        return False  # unknown: the SDK answers that it does not exist
    ann = getattr(tool, "annotations", None)
    return not (ann is not None and ann.read_only_hint is True)  # not marked read-only = a writer


def read_only_callers(server: Any):
    """A server middleware: a read-only token sees only the tools that read (tools/list), and a
    call of a writer answers with an error saying why (tools/call), before the tool runs."""

    async def middleware(ctx: Any, call_next: Any) -> Any:
        if caller_may_write() or ctx.method not in ("tools/list", "tools/call"):
            return await call_next(ctx)
        if ctx.method == "tools/call":
            name = str((ctx.params or {}).get("name", ""))
            if _is_writer(server, name):
                from mcp_types import CallToolResult, TextContent

                return CallToolResult(content=[TextContent(type="text", text=read_only_refusal(name))], is_error=True)
            return await call_next(ctx)
        result = await call_next(ctx)
        tools = result.get("tools") if isinstance(result, dict) else getattr(result, "tools", None)
        if tools is not None:
            kept = [t for t in tools if not _is_writer(server, t["name"] if isinstance(t, dict) else t.name)]
            if isinstance(result, dict):
                result = {**result, "tools": kept}
            else:
                result = result.model_copy(update={"tools": kept})
        return result

    return middleware


# ---------------------------------------------------------------------------- editing the file
def default_tokens_file() -> Path:
    from paii_common.config import paii_config_dir

    return paii_config_dir() / "tokens"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{str(name)[:60]!r} is not a valid name: use {NAME_RULE}")
    return name


def read_entries(path: Path) -> list[TokenEntry]:
    if not path.exists():
        return []
    return parse_tokens(path.read_text(encoding="utf-8"))[0]


def _rewrite(path: Path, lines: Iterable[str]) -> None:
    """Write the file atomically, readable by its owner only."""
    from paii_common.local import atomic_write

    atomic_write(path, "".join(line if line.endswith("\n") else line + "\n" for line in lines), mode=0o600)


def add_token(path: Path, name: str, *, read_only: bool = False, hashed: bool = False) -> str:
    """Append a new random token for ``name`` and return it (the only time it is shown)."""
    check_name(name)
    if any(e.name == name for e in read_entries(path)):
        raise FileExistsError(f"{name!r} already has a token in {path}: `paii auth remove {name}` first, or choose another name")
    import secrets

    token = secrets.token_urlsafe(TOKEN_BYTES)
    stored = f"sha256:{digest(token).hex()}" if hashed else token
    line = f"{name}:{stored}" + (f":{READ_ONLY_MARK}" if read_only else "")
    old = path.read_text(encoding="utf-8").splitlines() if path.exists() else [
        "# PAII bearer tokens: name:token or name:sha256:<hex>, optionally :read-only (paii auth --help)"]
    _rewrite(path, [*old, line])
    return token


def remove_token(path: Path, name: str) -> int:
    """Remove every line of ``name``; returns how many there were."""
    check_name(name)
    if not path.exists():
        return 0
    kept, removed = [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entry = parse_line(line, number)
        except ValueError:
            entry = None
        if entry is not None and entry.name == name:
            removed += 1
        else:
            kept.append(line)
    if removed:
        _rewrite(path, kept)
    return removed
