"""The parsed form of a runbook: what :mod:`paii_runbook.format` reads a file into."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from paii_runbook.expect import Expect

Severity = Literal["error", "warning", "note"]


@dataclass
class Problem:
    line: int
    severity: Severity
    message: str

    def render(self, path: Path | str) -> str:
        return f"{path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Parameter:
    name: str
    description: str = ""
    pattern: str | None = None
    default: str | None = None
    required: bool = True
    example: str | None = None


@dataclass
class Command:
    """A command: ``run`` (local argv) or ``k8s_exec`` (argv in a pod picked by selector)."""

    kind: Literal["run", "k8s_exec"]
    argv: list[str]
    timeout: float
    namespace: str | None = None
    selector: str | None = None
    container: str | None = None
    context: str | None = None


@dataclass
class Wait:
    check: Command
    every: float
    timeout: float
    until: Expect


@dataclass
class Step:
    id: str
    title: str
    line: int
    prose: str = ""
    rollback: bool = False
    kind: Literal["run", "k8s_exec", "wait", "manual", "note"] = "note"
    command: Command | None = None
    wait: Wait | None = None
    manual: str | None = None
    expect: Expect | None = None
    approval: Literal["required", "none"] | None = None
    reason: str | None = None
    changes: bool | None = None  # as written; lint decides when it is None
    on_fail: str = "stop"
    block_line: int = 0
    lines: dict[str, int] = field(default_factory=dict)  # file line of each key of its yaml block

    def line_of(self, key: str | None = None) -> int:
        return self.lines.get(key or self.kind) or self.block_line or self.line

    @property
    def needs_person(self) -> bool:
        """An approval-required step, or a manual one (the person confirms they did it)."""
        return self.approval == "required" or self.kind == "manual"


@dataclass
class Check:
    name: str
    command: Command
    expect: Expect
    required: bool = True
    changes: bool | None = None
    line: int = 0


@dataclass
class Runbook:
    name: str
    path: Path
    source: str
    title: str = ""
    description: str = ""
    services: list[str] = field(default_factory=list)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    estimated_duration: str | None = None
    production: bool = False
    maintenance_window: bool = False
    maintenance_windows: list[str] = field(default_factory=list)
    preflight: list[Check] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    rollbacks: dict[str, Step] = field(default_factory=dict)
    notes: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None) or self.rollbacks.get(step_id)
