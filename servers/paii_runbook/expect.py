"""Expectations on a command's result: exit code, a regex, a JSON path, a comparison.

An ``expect`` (or a wait's ``until``) is a mapping; every key given must hold::

    exit_code: 0            # default 0; a list allows several
    regex: 'Active: (\\d+)'  # stdout must contain a match; its first group (else the match) is the value
    json_path: '$.caught_up'  # stdout parsed as JSON: the value at this path
    equals: true            # the value equals this (ne: differs)
    lt: 5                   # the value as a number: lt, le, gt, ge

Without ``regex`` or ``json_path`` the value is stdout, stripped. The value is what a wait shows
for each poll ("Active: 12 -> 8 -> 3 -> 0").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from paii_common.untrusted import short

COMPARISONS = ("equals", "ne", "lt", "le", "gt", "ge")
KEYS = ("exit_code", "regex", "json_path", *COMPARISONS)
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def parse_json_path(path: str) -> list[str | int]:
    """``$.a.b[0]['c d']`` -> ["a", "b", 0, "c d"]; ValueError when it is not that subset."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError("a JSON path starts with $, e.g. $.status or $.items[0].name")
    pos, out = 1, []
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if not m:
            raise ValueError(f"cannot read the JSON path {path!r} at {path[pos:]!r}: use .key, [index] or ['key']")
        name, index, q1, q2 = m.groups()
        out.append(int(index) if index is not None else (name if name is not None else (q1 if q1 is not None else q2)))
        pos = m.end()
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.fullmatch(value.strip())
        if m:
            return float(m.group(0))
    return None


def _same(a: Any, b: Any) -> bool:
    """YAML's ``true`` equals JSON's ``true`` and psql's ``t``; numbers compare as numbers."""
    if isinstance(b, bool):
        if isinstance(a, bool):
            return a == b
        return str(a).strip().lower() in ({"t", "true", "on", "yes", "1"} if b else {"f", "false", "off", "no", "0"})
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return math.isclose(na, nb)
    return str(a).strip() == str(b).strip()


@dataclass
class Expect:
    exit_code: list[int] = field(default_factory=lambda: [0])
    regex: str | None = None
    json_path: str | None = None
    cmp: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Expect:
        """Build from a validated mapping (see :func:`validate`)."""
        codes = data.get("exit_code", 0)
        return cls(
            exit_code=list(codes) if isinstance(codes, list) else [codes],
            regex=data.get("regex"),
            json_path=data.get("json_path"),
            cmp={k: data[k] for k in COMPARISONS if k in data},
        )

    def describe(self) -> str:
        parts = []
        if self.exit_code != [0]:
            parts.append(f"exit code {' or '.join(map(str, self.exit_code))}")
        if self.regex:
            parts.append(f"output matches /{self.regex}/")
        if self.json_path:
            parts.append(f"{self.json_path}")
        sym = {"equals": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        parts += [f"{sym[k]} {json.dumps(v) if isinstance(v, bool) else v}" for k, v in self.cmp.items()]
        return " ".join(parts) or "exit code 0"

    def evaluate(self, stdout: str, exit_code: int | None) -> tuple[bool, str | None, str]:
        """(passed, the value seen, why it failed or 'ok')."""
        if exit_code not in self.exit_code:
            got = "no exit code (the command did not finish)" if exit_code is None else f"exit code {exit_code}"
            return False, None, f"{got}, expected {' or '.join(map(str, self.exit_code))}"
        value: Any = stdout.strip()
        if self.regex:
            m = re.search(self.regex, stdout, re.MULTILINE)
            if not m:
                return False, None, f"the output does not match /{self.regex}/"
            value = next((g for g in m.groups() if g is not None), m.group(0)) if m.groups() else m.group(0)
        if self.json_path:
            try:
                value = json.loads(value)
            except ValueError:
                return False, None, f"the output is not JSON, so {self.json_path} cannot be read"
            for token in parse_json_path(self.json_path):
                try:
                    value = value[token]
                except (KeyError, IndexError, TypeError):
                    return False, None, f"{self.json_path} is not in the output"
        shown = json.dumps(value) if not isinstance(value, str) else value
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        for op, want in self.cmp.items():
            if op in ("equals", "ne"):
                ok = _same(value, want) == (op == "equals")
            else:
                got, limit = _number(value), _number(want)
                if got is None:
                    return False, shown, f"{short(shown, 200)} is not a number (expected {op} {want})"
                ok = {"lt": got < limit, "le": got <= limit, "gt": got > limit, "ge": got >= limit}[op]
            if not ok:
                return False, shown, f"{short(shown, 200)} does not meet {self.describe()}"
        return True, shown, "ok"


def validate(data: Any, where: str) -> list[str]:
    """Problems with an expect mapping, each a sentence that says how to fix it."""
    if not isinstance(data, dict):
        return [f"{where} must be a mapping such as {{exit_code: 0, regex: '^t$'}}"]
    problems = []
    for key in data:
        if key not in KEYS and not str(key).startswith("__"):
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
    codes = data.get("exit_code", 0)
    for c in codes if isinstance(codes, list) else [codes]:
        if isinstance(c, bool) or not isinstance(c, int):
            problems.append(f"{where}: exit_code must be an integer or a list of integers")
    if "regex" in data:
        try:
            re.compile(str(data["regex"]))
        except re.error as exc:
            problems.append(f"{where}: regex {data['regex']!r} does not compile: {exc}")
    if "json_path" in data:
        try:
            parse_json_path(data["json_path"])
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    for op in ("lt", "le", "gt", "ge"):
        if op in data and _number(data[op]) is None:
            problems.append(f"{where}: {op} must be a number")
    return problems
