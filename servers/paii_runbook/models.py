"""What the model sees: lean results. Prose, output and notes written by people are data fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LastRun(BaseModel):
    when: str
    ago: str
    by: str | None = None
    outcome: str | None = None
    run_id: str


class RunbookSummary(BaseModel):
    name: str
    title: str
    services: list[str] = Field(default_factory=list)
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
    title: str
    services: list[str] = Field(default_factory=list)
    score: float
    why: list[str] = Field(default_factory=list)
    last_run: LastRun | None = None


class FindResult(BaseModel):
    runbooks: list[FoundRunbook]
    warnings: list[str] = Field(default_factory=list)


class Param(BaseModel):
    name: str
    description: str = ""
    pattern: str | None = None
    default: str | None = None
    required: bool = True
    example: str | None = None


class PlanStep(BaseModel):
    id: str
    title: str
    kind: Literal["run", "k8s_exec", "wait", "manual", "note"]
    argv: list[str] | None = Field(default=None, description="The exact arguments; no shell is involved.")
    pod: str | None = Field(default=None, description="k8s_exec: where (namespace, selector, container).")
    wait: str | None = None
    manual: str | None = None
    expect: str | None = None
    approval: bool = Field(default=False, description="Needs the person's approval (or confirmation) to run.")
    changes: bool = False
    on_fail: str | None = None
    prose: str | None = None


class CheckResult(BaseModel):
    name: str
    passed: bool
    value: str | None = None
    message: str
    argv: list[str]
    required: bool = True


class RunbookDetail(BaseModel):
    name: str
    title: str
    description: str
    services: list[str]
    parameters: list[Param]
    estimated_duration: str | None = None
    production: bool = False
    maintenance_window: str | None = Field(default=None, description="Whether it needs one, and whether now is in one.")
    preflight: list[PlanStep] = Field(default_factory=list)
    steps: list[PlanStep]
    rollbacks: list[PlanStep] = Field(default_factory=list)
    notes: str | None = None
    problems: list[str] = Field(default_factory=list, description="Lint findings (file:line: severity: message).")
    last_run: LastRun | None = None
    path: str


class StartResult(BaseModel):
    run_id: str
    runbook: str
    title: str
    dry_run: bool
    parameters: dict[str, str]
    steps_total: int
    estimated_duration: str | None = None
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
    by: str = Field(description="The person who approved (their token name, PAII_USER, git user.name or OS user).")
    via: str = Field(description="Their channel: the client's prompt (elicitation) or their terminal.")
    at: str
    expires: str
    command_sha256: str


class NextStep(BaseModel):
    id: str
    title: str
    approval: bool = False


class StepResult(BaseModel):
    run_id: str
    step: str
    title: str
    status: Literal["passed", "failed", "skipped"]
    exit_code: int | None = None
    duration_s: float = 0.0
    value: str | None = Field(default=None, description="What the expectation looked at (a wait: the last poll).")
    observed: list[str] = Field(default_factory=list, description="A wait: the value of each poll, in order.")
    reason: str | None = None
    pod: str | None = None
    output: str | None = Field(default=None, description="The command's output (capped), fenced as data.")
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
    title: str
    status: str
    attempts: int = 0
    exit_code: int | None = None
    value: str | None = None
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
