"""Reading an export file into import records: JSON Lines, a JSON array, the JSON of Jira's and
PagerDuty's REST searches, and CSV (Jira's and PagerDuty's CSV exports, or any CSV with a header).

:func:`read_records` gives every record the line of the file it starts on, so each error can say
where to look. A record is a dict in the fields ``paii history import`` takes (``id``, ``title``,
``body``, ``created``, then metadata such as ``service``, ``severity``, ``status``, ``root_cause``,
``resolution``, ``tags``, ``links``); a vendor's own names are mapped to them here, so the store
sees one shape whatever the file was. Stdlib only: nothing heavy is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paii_common.errors import InvalidInput


@dataclass
class Record:
    line: int  # where the record starts in the file (1-based)
    data: dict[str, Any] | None = None
    error: str | None = None  # why the record could not be read (data is None)


def read_records(path: Path) -> tuple[str, list[Record]]:
    """(the format found, the records in file order). Raises InvalidInput when the file cannot be
    read at all (missing, not UTF-8, JSON that does not parse), saying what to do."""
    try:
        # utf-8-sig: a byte-order mark (Windows exports) is not part of the first record
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"cannot read {path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"cannot read {path}: not UTF-8 text (byte {exc.start}); save the export as UTF-8 (CSV UTF-8 in a spreadsheet) and import again"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    head = text.lstrip()
    if not head:
        return "empty", []
    if head[0] == "[":
        return "JSON array", _json_document(text, path)
    if head[0] == "{":
        first = next((ln for ln in text.split("\n") if ln.strip()), "")
        if _is_object(first):
            return "JSON Lines", _json_lines(text)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            return _rest_document(doc, text, path)
        # pretty-printed objects one after another (jq's default output), or broken JSON Lines
        records = _json_sequence(text)
        if records is not None:
            return "JSON objects", records
        return "JSON Lines", _json_lines(text)
    return "CSV", _csv(text, path)


# --------------------------------------------------------------------------- JSON


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _json_lines(text: str) -> list[Record]:
    out: list[Record] = []
    # JSON Lines ends records at "\n" only: str.splitlines would also split at U+2028, U+0085,
    # form feeds... which JSON allows raw inside strings (and real data has)
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = " (a record must be one JSON object on one line)" if line.strip() in "{}[]," or exc.pos == 0 else ""
            out.append(Record(lineno, error=f"not valid JSON: {exc.msg} at column {exc.colno}{hint}"))
            continue
        out.append(_object_record(lineno, obj))
    return out


def _object_record(line: int, obj: Any) -> Record:
    if not isinstance(obj, dict):
        return Record(line, error=f"not a JSON object (got {type(obj).__name__}): each record is {{\"id\": ..., \"title\": ..., ...}}")
    # a vendor's record on its own (`jq -c '.issues[]'`, `jq '.incidents'`): read as that vendor's
    if isinstance(obj.get("fields"), dict) and "key" in obj:
        return _vendor(line, obj, jira_issue)
    if "incident_number" in obj and ("created_at" in obj or "html_url" in obj):
        return _vendor(line, obj, pagerduty_incident)
    return Record(line, data=obj)


def _json_sequence(text: str) -> list[Record] | None:
    """Objects one after another, each over several lines; None when the text is not that."""
    dec = json.JSONDecoder()
    pos, out = 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        out.append(_object_record(_line_of(text, pos), obj))
        pos = end


def _json_document(text: str, path: Path) -> list[Record]:
    """A JSON array of records: each gets the line its object starts on."""
    dec = json.JSONDecoder()
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; fix the file and import again") from None
    if not isinstance(items, list):  # pragma: no cover - the caller saw "["
        raise InvalidInput(f"{path}: expected a JSON array of records")
    # where each element starts: walk the array with raw_decode
    pos = text.index("[") + 1
    lines: list[int] = []
    for _ in items:
        while text[pos] in " \t\r\n,":
            pos += 1
        lines.append(_line_of(text, pos))
        _, pos = dec.raw_decode(text, pos)
    return [_object_record(ln, obj) for ln, obj in zip(lines, items, strict=True)]


def _rest_document(doc: dict, text: str, path: Path) -> tuple[str, list[Record]]:
    """One JSON object: a Jira search response ({"issues": [...]}), a PagerDuty incidents list
    ({"incidents": [...]}), or a single record."""
    if isinstance(doc.get("issues"), list):
        lines = _element_lines(text, "issues", len(doc["issues"]))
        return "Jira REST search", [_vendor(ln, issue, jira_issue) for ln, issue in zip(lines, doc["issues"], strict=True)]
    if isinstance(doc.get("incidents"), list):
        lines = _element_lines(text, "incidents", len(doc["incidents"]))
        return "PagerDuty REST incidents", [_vendor(ln, inc, pagerduty_incident) for ln, inc in zip(lines, doc["incidents"], strict=True)]
    if isinstance(doc.get("incident"), dict):  # GET /incidents/{id}
        return "PagerDuty REST incident", [_vendor(_line_of(text, text.index("{")), doc["incident"], pagerduty_incident)]
    if "key" in doc and isinstance(doc.get("fields"), dict):  # GET /issue/{key}
        return "Jira REST issue", [_vendor(1, doc, jira_issue)]
    if any(k in doc for k in ("id", "title", "summary")):
        return "JSON object", [Record(1, data=doc)]
    raise InvalidInput(
        f"{path}: a JSON object with none of the shapes import reads (a record with id and title, "
        "Jira's {\"issues\": [...]}, PagerDuty's {\"incidents\": [...]}); see docs/importing.md"
    )


def _element_lines(text: str, key: str, count: int) -> list[int]:
    """The line each element of the top-level array ``key`` starts on (best effort: line 1 when unsure)."""
    m = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
    if not m:  # pragma: no cover - the key was parsed from this text
        return [1] * count
    dec, pos, out = json.JSONDecoder(), m.end(), []
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        out.append(_line_of(text, pos))
        _, pos = dec.raw_decode(text, pos)
    return out


def _vendor(line: int, obj: Any, convert) -> Record:
    if not isinstance(obj, dict):
        return Record(line, error="not a JSON object")
    try:
        return Record(line, data=convert(obj))
    except (KeyError, TypeError, ValueError) as exc:
        return Record(line, error=f"cannot read this record: {exc}")


def _name(value: Any) -> str | None:
    """A Jira/PagerDuty reference object's display name ({"name": ...}, {"summary": ...}), or a plain value."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("summary") or value.get("displayName") or value.get("value")
    return str(value) if value not in (None, "") else None


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format value (Jira Cloud REST v3 descriptions)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    inner = adf_text(node.get("content", []))
    block = node.get("type") in ("paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule")
    return inner + ("\n" if block else "")


def _clean(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if v not in (None, "", [], {})}


def jira_issue(issue: dict[str, Any]) -> dict[str, Any]:
    """A Jira REST issue (``/rest/api/2|3/search`` or ``/issue/{key}``) as an import record."""
    f = issue.get("fields") or {}
    key = issue.get("key") or issue.get("id")
    links = {}
    self_url = issue.get("self")
    if isinstance(self_url, str) and "/rest/api/" in self_url and key:
        links["jira"] = self_url.split("/rest/api/")[0] + f"/browse/{key}"
    components = [_name(c) for c in f.get("components") or []]
    return _clean({
        "id": key,
        "title": f.get("summary"),
        "body": adf_text(f.get("description")) if f.get("description") is not None else "",
        "created": f.get("created"),
        "resolved": f.get("resolutiondate"),
        "status": _name(f.get("status")),
        "severity": _name(f.get("priority")),
        "service": next((c for c in components if c), None),
        "tags": [str(t) for t in f.get("labels") or []],
        "type": _name(f.get("issuetype")),
        "assignee": _name(f.get("assignee")),
        "links": links,
    })


def pagerduty_incident(inc: dict[str, Any]) -> dict[str, Any]:
    """A PagerDuty REST v2 incident (``GET /incidents``) as an import record: id ``PD-<number>``."""
    number = inc.get("incident_number")
    status = inc.get("status")
    body = inc.get("description") if inc.get("description") != inc.get("title") else ""
    if isinstance(inc.get("body"), dict) and inc["body"].get("details"):
        body = "\n".join(filter(None, [body, str(inc["body"]["details"])]))
    return _clean({
        "id": f"PD-{number}" if number is not None else inc.get("id"),
        "title": inc.get("title") or inc.get("summary") or inc.get("description"),
        "body": body or "",
        "created": inc.get("created_at"),
        "resolved": inc.get("resolved_at") or (inc.get("last_status_change_at") if status == "resolved" else None),
        "status": status,
        "severity": _name(inc.get("priority")) or inc.get("urgency"),
        "urgency": inc.get("urgency"),
        "service": _name(inc.get("service")),
        "links": {"pagerduty": inc["html_url"]} if inc.get("html_url") else {},
        "pagerduty_id": inc.get("id") if number is not None else None,
    })


# --------------------------------------------------------------------------- CSV

#: CSV column names (lower case, runs of other characters as one "_") -> import fields. Jira's CSV
#: export (Summary, Issue key, Description, Created, Priority, Labels, Component/s...), PagerDuty's
#: incident CSV (incident_number, description = its title, service_name, created_on, urgency...),
#: and the import's own names, so any spreadsheet with such a header imports.
CSV_COLUMNS = {
    "id": "id", "issue_key": "id", "key": "id", "incident_id": "id", "number": "id",
    "incident_number": "incident_number",
    "title": "title", "summary": "title", "subject": "title", "short_description": "title", "name": "title",
    "body": "body", "content": "body", "description": "body", "text": "body", "details": "body",
    "created": "created", "created_at": "created", "created_on": "created", "opened_at": "created",
    "date": "created", "started": "created", "start_time": "created", "triggered_at": "created",
    "resolved": "resolved", "resolved_at": "resolved", "resolved_on": "resolved", "resolution_date": "resolved",
    "service": "service", "service_name": "service", "component_s": "service", "components": "service",
    "severity": "severity", "priority": "severity",
    "status": "status", "state": "status",
    "root_cause": "root_cause", "cause": "root_cause",
    "resolution": "resolution", "fix": "resolution",
    "tags": "tags", "labels": "tags",
    "urgency": "urgency", "assignee": "assignee", "issue_type": "type", "url": "url", "html_url": "url",
}
LIST_FIELDS = ("tags",)  # a repeated column (Jira repeats Labels) or a "a, b; c" cell becomes a list
#: dates as spreadsheets and Jira's CSV export write them, besides what parse_time reads
CSV_DATE_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%m/%d/%Y %H:%M:%S",
                    "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")


def column_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def csv_date(value: str) -> str:
    """A spreadsheet or Jira CSV date (12/Nov/26 2:14 AM, 11/12/2026 02:14) as ISO 8601 UTC, or the text as it is."""
    text = value.strip()
    for fmt in CSV_DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text


def _csv(text: str, path: Path) -> list[Record]:
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - the file is not empty
        return []
    keys = [column_key(h) for h in header]
    jira = "issue_key" in keys
    # Jira: "Custom field (Root cause)" is a root_cause column; its Resolution is a state (Fixed,
    # Done), not how the incident was resolved
    keys = [k.removeprefix("custom_field_") if jira else k for k in keys]
    fields = [("jira_resolution" if jira and k == "resolution" else CSV_COLUMNS.get(k)) for k in keys]
    if "title" not in fields and "body" not in fields:
        raise InvalidInput(
            f"{path}: not JSON, and its first line is no CSV header with a title column "
            f"(found: {', '.join(h for h in header[:8] if h) or 'nothing'}). Import reads JSON Lines (one "
            "{\"id\", \"title\", \"body\", \"created\"} object a line), a JSON array, Jira's or PagerDuty's "
            "JSON, or CSV with a header row (id/Issue key, title/Summary, body/Description, created...): see docs/importing.md"
        )
    pagerduty = "incident_number" in keys
    # without a title column, the description is the title (PagerDuty's CSV calls its title "description")
    title_from_body = "title" not in fields
    out: list[Record] = []
    line = reader.line_num + 1
    for row in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            out.append(Record(start, error=f"{len(row)} cells but the header has {len(header)} columns (an unquoted delimiter?)"))
            continue
        rec: dict[str, Any] = {}
        for key, name, field_name, cell in zip(keys, header, fields, row):
            value = cell.strip()
            if not value:
                continue
            if field_name is None:
                rec.setdefault(key or column_key(name) or "column", value)
            elif field_name in LIST_FIELDS:
                rec.setdefault(field_name, []).extend(t.strip() for t in re.split(r"[;,]", value) if t.strip())
            elif field_name == "body" and title_from_body and "title" not in rec:
                rec["title"] = value
            elif field_name in rec and field_name == "service":
                continue  # Jira repeats Component/s: the first is the service
            else:
                rec[field_name] = value
        number = rec.pop("incident_number", None)
        if number and pagerduty:  # as from PagerDuty's REST API: PD-<number>, its own id kept beside
            if "id" in rec:
                rec["pagerduty_id"] = rec.pop("id")
            rec["id"] = f"PD-{number}"
        for when_key in ("created", "resolved"):
            if when_key in rec:
                rec[when_key] = csv_date(rec[when_key])
        if "url" in rec:
            rec["links"] = {"pagerduty" if pagerduty else "url": rec.pop("url")}
        out.append(Record(start, data=rec))
    return out
