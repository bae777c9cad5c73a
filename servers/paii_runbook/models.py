"""What the model sees: lean results. A runbook file may come from a team's repository: its prose,
manual steps and notes are fenced, its titles, descriptions and the values its commands printed
are plain or marked (``paii_common.untrusted``: the types below do it when the result is sent).
Commands (argv, expect, pod, wait) are shown as they will run, with invisible characters removed
and anything that could pass for a marker defanged (``paii_common.calls``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from paii_common.untrusted import FencedText, ShortText

LABEL = "runbook text"
Name = ShortText()
Title = ShortText(200)
Line = ShortText(300)
Prose = FencedText(LABEL)


class LastRun(BaseModel):
    when: str
    ago: str
    by: Name | None = None
    outcome: Name | None = None
    run_id: str


class RunbookSummary(BaseModel):
    name: str
    title: Title
    services: list[Name] = Field(default_factory=list)
    steps: int
    approvals: int = Field(description="Steps that need the person's approval or confirmation.")
    production: bool = False
    valid: bool = True
    problems: list[str] = Field(default_factory=list, description="Lint errors (file:line: what is wrong).")
    source: str
    last_run: LastRun | None = None
    open_runs: list[str] = Field(default_factory=list)


class RunbookList(BaseModel):
    runbooks: list[RunbookSummary]
    truncated: bool = False


class FoundRunbook(BaseModel):
    name: str
    title: Title
    services: list[Name] = Field(default_factory=list)
    score: float
    why: list[str] = Field(default_factory=list)
    last_run: LastRun | None = None


class FindResult(BaseModel):
    runbooks: list[FoundRunbook]
    warnings: list[str] = Field(default_factory=list)


class Param(BaseModel):
    name: str
    description: Line = ""
    pattern: str | None = None
    default: str | None = None
    required: bool = True
    example: str | None = None


class PlanStep(BaseModel):
    id: str
    title: Title
    kind: Literal["run", "k8s_exec", "wait", "manual", "note"]
    argv: list[str] | None = Field(default=None, description="The exact arguments; no shell is involved.")
    pod: str | None = Field(default=None, description="k8s_exec: where (namespace, selector, container).")
    wait: str | None = None
    manual: Prose | None = None
    expect: str | None = None
    approval: bool = Field(default=False, description="Needs the person's approval (or confirmation) to run.")
    changes: bool = False
    on_fail: str | None = None
    prose: Prose | None = None


class CheckResult(BaseModel):
    name: Title
    passed: bool
    value: Line | None = None
    message: str
    argv: list[str]
    required: bool = True


class RunbookDetail(BaseModel):
    name: str
    title: Title
    description: Line
    services: list[Name]
    parameters: list[Param]
    estimated_duration: Name | None = None
    production: bool = False
    maintenance_window: str | None = Field(default=None, description="Whether it needs one, and whether now is in one.")
    preflight: list[PlanStep] = Field(default_factory=list)
    steps: list[PlanStep]
    rollbacks: list[PlanStep] = Field(default_factory=list)
    notes: Prose | None = None
    problems: list[str] = Field(default_factory=list, description="Lint findings (file:line: severity: message).")
    last_run: LastRun | None = None
    path: str


class StartResult(BaseModel):
    run_id: str
    runbook: str
    title: Title
    dry_run: bool
    parameters: dict[str, str]
    steps_total: int
    estimated_duration: Name | None = None
    production: bool = False
    last_executed: LastRun | None = None
    preflight: list[CheckResult]
    warnings: list[str] = Field(default_factory=list)
    approvals_needed: list[str] = Field(default_factory=list, description="Step ids that need the person's approval.")
    plan: list[PlanStep]
    next_step: str | None = None
    recorded: str | None = Field(default=None, description="Where the record is (a dry run is recorded at once).")


class ApprovalInfo(BaseModel):
    step: str
    by: Name = Field(description="The person who approved (their token name, PAII_USER, git user.name or OS user).")
    via: str = Field(description="Their channel: the client's prompt (elicitation) or their terminal.")
    at: str
    expires: str
    command_sha256: str


class NextStep(BaseModel):
    id: str
    title: Title
    approval: bool = False


class StepResult(BaseModel):
    run_id: str
    step: str
    title: Title
    status: Literal["passed", "failed", "skipped"]
    exit_code: int | None = None
    duration_s: float = 0.0
    value: Line | None = Field(default=None, description="What the expectation looked at (a wait: the last poll).")
    observed: list[Line] = Field(default_factory=list, description="A wait: the value of each poll, in order.")
    reason: str | None = None
    pod: str | None = None
    output: FencedText("command output") | None = Field(default=None, description="The command's output (capped), fenced as data.")
    truncated: bool = False
    approval: ApprovalInfo | None = None
    next_step: NextStep | None = None
    run_status: str
    options: list[str] = Field(default_factory=list, description="What the person may choose after a failure.")


class FinishResult(BaseModel):
    run_id: str
    runbook: str
    outcome: str
    duration_s: float
    steps: dict[str, int]
    recorded: str | None = None
    warnings: list[str] = Field(default_factory=list)


class StepState(BaseModel):
    id: str
    title: Title
    status: str
    attempts: int = 0
    exit_code: int | None = None
    value: Line | None = None
    reason: str | None = None
    finished: str | None = None


class RunStatus(BaseModel):
    run_id: str
    runbook: str
    parameters: dict[str, str]
    dry_run: bool
    status: str = Field(description="running, halted (a step failed or was interrupted), done, finished.")
    outcome: str | None = None
    next_step: NextStep | None = None
    steps: list[StepState]
    approvals: list[ApprovalInfo] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    recorded: str | None = None
