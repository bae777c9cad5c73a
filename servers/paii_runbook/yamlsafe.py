"""YAML from a runbook file, parsed so that no file can make the parse hang or grow without end.

The frontmatter and step blocks are read with a safe loader (plain data, no tags that build
objects) that also:

* refuses anchors (``&name``) and aliases (``*name``, ``<<: *name``) when it meets them, before
  anything is built: a 600-byte "billion laughs" block cannot expand into gigabytes;
* refuses nesting deeper than :data:`MAX_DEPTH` (a file of 5,000 ``[`` is one problem, not a
  RecursionError);
* shares one :class:`Budget` per file: at most :data:`MAX_YAML_BYTES` of YAML in all, and a
  deadline checked before every token it scans, so the parse stops by itself (no thread left
  running that nobody can stop).

Every refusal is a :class:`yaml.YAMLError` with the line it is on, which
:func:`paii_runbook.fields.load_yaml` turns into the runbook's problem.
"""

from __future__ import annotations

import time

import yaml

#: how long one file's YAML may take to parse (it takes milliseconds; this is the bound, not the budget)
PARSE_SECONDS = 5.0
#: YAML in one runbook (frontmatter and all step blocks): a real one has a few KB
MAX_YAML_BYTES = 64 * 1024
MAX_DEPTH = 32


class Budget:
    """What one file's YAML may still use: bytes and time."""

    def __init__(self, seconds: float | None = None, max_bytes: int = MAX_YAML_BYTES) -> None:
        seconds = PARSE_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.bytes_left = max_bytes
        self.max_bytes = max_bytes
        self.spent: str | None = None  # why parsing stopped, once it did

    def take(self, text: str, what: str) -> None:
        """Count ``text`` against the byte budget; raises Refused when it is used up."""
        if self.spent:
            raise Refused(self.spent)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.bytes_left:
            self.spent = (f"the YAML in this runbook passes {self.max_bytes // 1024} KB at {what}: not read. Frontmatter "
                          "and step blocks hold commands and settings; move long text into the prose")
            raise Refused(self.spent)
        self.bytes_left -= size

    def check_time(self, mark: yaml.Mark | None = None) -> None:
        if self.spent:
            raise Refused(self.spent, mark)
        if time.monotonic() > self.deadline:
            self.spent = f"parsing its YAML took over {self.seconds:g} s and was stopped: simplify the file"
            raise Refused(self.spent, mark)


class Refused(yaml.YAMLError):
    """YAML PAII does not read from a runbook, with where and why."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class RunbookLoader(yaml.SafeLoader):
    """Safe YAML with the bounds above, remembering each mapping's line and each key's line
    (``__line__``, ``__lines__``)."""

    def __init__(self, stream: str, budget: Budget) -> None:
        super().__init__(stream)
        self.budget = budget
        self.depth = 0

    def fetch_more_tokens(self) -> None:
        self.budget.check_time(self.get_mark())
        super().fetch_more_tokens()

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise Refused(f"the alias *{event.anchor} is not allowed: runbooks use no YAML anchors or aliases "
                          "(they can expand a few bytes into gigabytes); write the value out", event.start_mark)
        if getattr(event, "anchor", None):
            raise Refused(f"the anchor &{event.anchor} is not allowed: runbooks use no YAML anchors or aliases; "
                          "write the value out where it is used", event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise Refused(f"values are nested more than {MAX_DEPTH} levels deep: a runbook's YAML is a few "
                              "levels of mappings and lists", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        mapping = super().construct_mapping(node, deep=True)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__lines__"] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        return mapping


def load(text: str, budget: Budget, what: str) -> object:
    """One YAML document within ``budget``; raises yaml.YAMLError (Refused for what PAII refuses)."""
    budget.take(text, what)
    loader = RunbookLoader(text, budget)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
