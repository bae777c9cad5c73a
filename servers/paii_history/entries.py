"""History entries on disk: markdown files with YAML frontmatter, the source of truth.

Layout: ``$PAII_HOME/history/<category>/YYYY-MM/<id>.md``. A person can read, grep and edit
them, and the history folder can be a shared git repository. Every write is atomic (a temp
file in the same folder, fsync, rename), so a reader or a crash never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from paii_common.errors import InvalidInput
from paii_common.local import atomic_write  # noqa: F401 - store and recurrence write through it

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
#: frontmatter keys PAII manages itself; everything else a caller gives is kept as metadata
CORE_KEYS = ("id", "category", "title", "created", "updated")


class CorruptEntry(ValueError):
    """A file under history/ that cannot be read as an entry (reported and skipped)."""


def utcnow() -> dt.datetime:
    """Now in UTC, to the second: the fixed ``PAII_NOW`` of a sandbox world when set (paii_common.clock)."""
    from paii_common.clock import now

    return now().replace(microsecond=0)


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def timestamp(value: dt.datetime | None) -> float | None:
    """Unix seconds of a datetime (how the index stores times), None for None."""
    return value.timestamp() if value else None


_REL = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w|mo|y)\s*(ago)?\s*$", re.I)
_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")  # Unix seconds (1973 on) or milliseconds, as digits
_EPOCH_START = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_REL_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400}


def _from_epoch(value: float, field_name: str) -> dt.datetime:
    """Unix time in seconds, or in milliseconds (what Slack, Opsgenie and many exports give)."""
    if abs(value) >= 1e11:  # seconds that large are past the year 5000: milliseconds
        value /= 1000.0
    try:
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(
            f"{field_name}: {value!r} is out of range for a Unix time: use seconds or milliseconds "
            "since 1970 up to the year 2200, or an ISO 8601 date"
        ) from None


def parse_time(value: Any, field_name: str = "time", *, now: dt.datetime | None = None) -> dt.datetime:
    """ISO 8601 date or datetime (naive = UTC), a relative age like ``7d``, ``24h``, ``2w``, Unix time
    in seconds or milliseconds (a number, or its digits in a string), or an e-mail style date
    (``Fri, 01 Mar 2019 12:00:00 GMT``): the forms exports from other tools carry."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = float("inf")
        return _check_year(_from_epoch(seconds, field_name), field_name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field_name}: expected an ISO 8601 date/time like 2026-11-12 or 2026-11-12T03:00:00Z, or an age like 7d, 24h, 2w")
    text = value.strip()
    m = _REL.match(text)
    if m:
        return _age(m.group(1), m.group(2).lower(), text, field_name, now or utcnow())
    if _EPOCH.match(text):
        return _check_year(_from_epoch(float(text), field_name), field_name)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = _rfc2822(text)
        if parsed is None:
            raise InvalidInput(
                f"{field_name}: {text[:40]!r} is not a date; use ISO 8601 (2026-11-12, 2026-11-12T03:00:00Z) or an age (7d, 24h, 2w)"
            ) from None
    return _check_year(parsed, field_name)


def _age(digits: str, unit: str, text: str, field_name: str, now: dt.datetime) -> dt.datetime:
    """``now`` minus an age; an age that reaches back before 1970 is refused (it would overflow)."""
    limit = (now - _EPOCH_START).total_seconds()
    secs = int(digits) * _REL_UNITS[unit] if len(digits) <= 15 else limit + 1  # int() of 4,300+ digits raises
    if secs > limit:
        most = int(limit // _REL_UNITS[unit])
        raise InvalidInput(
            f"{field_name}: {text[:40]!r} reaches back before 1970: use an age up to {most}{unit} "
            f"(or an ISO 8601 date between 1970-01-01 and 2200-12-31)"
        )
    return now - dt.timedelta(seconds=secs)


def _rfc2822(text: str) -> dt.datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _check_year(parsed: dt.datetime, field_name: str) -> dt.datetime:
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if not (1970 <= parsed.year <= 2200):
        raise InvalidInput(f"{field_name}: year {parsed.year} is out of range")
    return parsed


def check_id(value: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value) or ".." in value:
        raise InvalidInput(
            f"id {str(value)[:60]!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. INC-456)"
        )
    return value


def check_category(value: str) -> str:
    if not isinstance(value, str) or not CATEGORY_RE.match(value):
        raise InvalidInput(
            f"category {str(value)[:60]!r} is not valid: use lowercase letters, digits, '-' or '_' (e.g. incidents, learnings)"
        )
    return value


def new_id(category: str, when: dt.datetime) -> str:
    return f"{category[:3]}-{when.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _plain(value: Any) -> Any:
    """YAML-safe plain data (datetimes as ISO strings)."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# libyaml's safe dumper and loader when PyYAML has them (its wheels do): 5-10x faster than the
# pure-Python ones, which were the largest cost of a bulk import
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Entry:
    id: str
    category: str
    title: str
    body: str
    created: dt.datetime
    updated: dt.datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: what a reader should know about how the file was read (e.g. dated by its mtime); not stored
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

    def to_markdown(self) -> str:
        front: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "created": iso(self.created),
        }
        if self.updated:
            front["updated"] = iso(self.updated)
        for k, v in self.meta.items():
            if k not in CORE_KEYS and v not in (None, "", [], {}):
                front[k] = _plain(v)
        head = yaml.dump(front, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=1000).strip()
        if "\\U" in head:  # libyaml escapes characters beyond U+FFFF (emoji: "\U0001F4A5") even with
            # allow_unicode; PyYAML's own emitter writes them as UTF-8, so grepping the files for 💥 finds them
            head = yaml.dump(front, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, width=1000).strip()
        body = self.body if self.body.endswith("\n") else self.body + "\n"
        return f"---\n{head}\n---\n\n{body}"

    def content_hash(self) -> str:
        """Identity of what a person wrote (ignores ``updated``): used to make imports idempotent."""
        front = {k: _plain(v) for k, v in sorted(self.meta.items()) if v not in (None, "", [], {})}
        blob = repr((self.id, self.category, self.title, iso(self.created), self.body.strip(), sorted(front.items())))
        return hashlib.sha256(blob.encode()).hexdigest()

    def relpath(self) -> Path:
        return Path(self.category) / self.created.strftime("%Y-%m") / f"{self.id}.md"

    def text_for_index(self) -> str:
        parts = [self.title]
        for key in ("service", "summary", "root_cause", "resolution"):
            v = self.meta.get(key)
            if isinstance(v, str) and v:
                parts.append(v)
        parts.append(self.body)
        return "\n".join(parts)


#: What a frontmatter may hold. YAML aliases are refused outright: PyYAML shares an aliased node,
#: so loading is cheap, but everything that copies the data (the index's metadata, a tool's JSON
#: answer) expands it: 459 bytes of nested aliases became a 34.7 MB `get` answer and 1.56 GB of
#: memory (issue 10). Without aliases a frontmatter is no bigger than its text, and libyaml
#: refuses nesting deeper than 1,000 levels itself.
MAX_FRONTMATTER_CHARS = 64 * 1024
#: A file bigger than this is not read (an entry's content is limited to PAII_HISTORY_MAX_CONTENT_BYTES
#: when PAII writes it; this leaves room for hand-written frontmatter). The store passes its own limit.
MAX_FILE_BYTES = 1024 * 1024
BOM = "\ufeff"


def _check_frontmatter(front: str) -> None:
    """Refuse a frontmatter that could expand beyond its text (see MAX_FRONTMATTER_CHARS)."""
    if len(front) > MAX_FRONTMATTER_CHARS:
        raise CorruptEntry(
            f"frontmatter is {len(front) // 1024} KB; the limit is {MAX_FRONTMATTER_CHARS // 1024} KB: "
            "keep long text in the body, below the closing ---"
        )
    if "*" not in front:  # an alias is "*name": without a star there is none (the common case)
        return
    try:
        for event in yaml.parse(front, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise CorruptEntry(
                    f"frontmatter uses a YAML alias (*{event.anchor}), which PAII does not expand "
                    "(a few hundred bytes of aliases can expand to gigabytes): write the value out"
                )
    except yaml.YAMLError:
        return  # reported by the load that follows, with the same message as any invalid YAML


def parse_markdown(text: str, path: Path | None = None, *, mtime: float | None = None) -> Entry:
    """The entry a markdown file holds. Without ``created`` it is dated ``mtime`` (the file's
    modification time) when given, and the entry's ``notes`` say so; else it is corrupt."""
    text = text.removeprefix(BOM)  # Windows editors start UTF-8 files with a byte-order mark
    if not text.startswith("---"):
        raise CorruptEntry("no YAML frontmatter (the file must start with ---)")
    end = text.find("\n---", 3)
    if end < 0:
        raise CorruptEntry("frontmatter is not closed with ---")
    _check_frontmatter(text[3:end])
    try:
        front = yaml.load(text[3:end], Loader=_LOADER) or {}
    except yaml.YAMLError as exc:
        raise CorruptEntry(f"frontmatter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(front, dict):
        raise CorruptEntry("frontmatter is not a mapping")
    body = text[end + 4 :].lstrip("\n")
    notes: list[str] = []
    try:
        eid = check_id(str(front.get("id", "")))
        cat = check_category(str(front.get("category", "")))
        if front.get("created") in (None, "") and mtime is not None:
            created = dt.datetime.fromtimestamp(int(mtime), tz=dt.timezone.utc)
            notes.append(f"no 'created' date: dated {iso(created)}, the file's modification time (add created: to fix it)")
        else:
            created = parse_time(front.get("created"), "created")
        updated = parse_time(front["updated"], "updated") if front.get("updated") else None
    except InvalidInput as exc:
        raise CorruptEntry(str(exc)) from None
    meta = {k: v for k, v in front.items() if k not in CORE_KEYS}
    return Entry(
        id=eid,
        category=cat,
        title=str(front.get("title") or eid),
        body=body,
        created=created,
        updated=updated,
        meta=meta,
        path=path,
        notes=notes,
    )


def read_entry(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Entry:
    """The entry in a markdown file; CorruptEntry (with the reason) when it cannot be one."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise CorruptEntry(
                f"file is {size // 1024} KB; entries are limited to {max_bytes // 1024} KB "
                "(PAII_HISTORY_MAX_CONTENT_BYTES sets the content limit): split it or link to the long text"
            )
        data = fh.read(max_bytes + 1)
        mtime = os.fstat(fh.fileno()).st_mtime
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptEntry("not UTF-8 text") from None
    # read as the text layer would (universal newlines): what PAII writes is read back unchanged
    return parse_markdown(text.replace("\r\n", "\n").replace("\r", "\n"), path, mtime=mtime)
