"""What the model sees: lean summaries of pods, events, logs, deployments and command results.

Kubernetes objects are large (one pod is ~10 KB of JSON, mostly managedFields and defaults); these
models keep what triage needs. Text written by applications (logs, command output) is fenced; event
and condition messages, reasons and change causes are plain or marked (``paii_common.untrusted``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from paii_common.timeline import Timeline
from paii_common.untrusted import ShortText

Message = ShortText(300)
Reason = ShortText(60)


@dataclass
class ExecResult:
    """One command run in a container (the client API the runbook engine uses)."""

    stdout: str
    stderr: str
    exit_code: int | None  # None: no exit status came back (timed out, or the stream broke)
    truncated: bool
    duration_s: float
    timed_out: bool = False


class Termination(BaseModel):
    reason: Reason | None = None
    exit_code: int | None = None
    finished: str | None = None


class PodSummary(BaseModel):
    name: str
    phase: str
    ready: str = Field(description="Ready containers / containers.")
    restarts: int
    last_termination: Termination | None = None
    age: str
    node: str | None = None


class PodList(BaseModel):
    context: str
    namespace: str
    pods: list[PodSummary] = Field(description="Not-ready and restarting pods first.")
    truncated: bool
    next_cursor: str | None = None


class Condition(BaseModel):
    type: str
    status: str
    reason: Reason | None = None
    message: Message | None = None


class Container(BaseModel):
    name: str
    image: str
    ready: bool | None = None
    restarts: int = 0
    state: str | None = None
    last_termination: Termination | None = None
    env: list[str] = Field(default_factory=list, description="NAME=value; values from Secrets are hidden.")
    resources: str | None = None


class FoldedEvent(BaseModel):
    type: str
    reason: Reason
    object: str
    message: Message
    count: int
    last_seen: str | None = None


class PodDetail(BaseModel):
    note: str
    context: str
    namespace: str
    name: str
    phase: str
    node: str | None = None
    started: str | None = None
    owner: str | None = None
    conditions: list[Condition]
    containers: list[Container]
    init_containers: list[str] = Field(default_factory=list)
    volumes_from_secrets: list[str] = Field(default_factory=list, description="Secret names only.")
    events: list[FoldedEvent]


class Logs(BaseModel):
    note: str
    pod: str
    container: str
    other_containers: list[str] = Field(default_factory=list)
    previous: bool
    lines: int
    matched: int | None = Field(default=None, description="Lines matching grep.")
    truncated: bool
    text: str


class EventList(BaseModel):
    note: str
    context: str
    namespace: str
    events: list[FoldedEvent] = Field(description="Warnings first, then newest; repeats folded with a count.")
    truncated: bool
    timeline: Timeline | None = Field(default=None, description="With since: the window's events, oldest first.")


class Revision(BaseModel):
    revision: int
    replicaset: str
    images: list[str]
    created: str | None = None
    replicas: int
    change_cause: ShortText(160) | None = None


class Deployment(BaseModel):
    context: str
    namespace: str
    name: str
    desired: int
    ready: int
    updated: int
    available: int
    rollout: str = Field(description="complete, progressing, stalled or paused.")
    conditions: list[Condition]
    images: list[str]
    selector: str
    revisions: list[Revision] = Field(description="Newest first.")


class ExecOutput(BaseModel):
    note: str
    pod: str
    container: str | None
    argv: list[str]
    exit_code: int | None
    timed_out: bool
    truncated: bool
    duration_s: float
    stdout: str
    stderr: str


class RolloutResult(BaseModel):
    deployment: str
    namespace: str
    restarted_at: str
    complete: bool
    status: str
    waited_s: float
    deployment_now: Deployment


class ScaleResult(BaseModel):
    deployment: str
    namespace: str
    preview: str = Field(description="e.g. replicas 3 -> 5")
    applied: bool
    next: str | None = None
    replicas_now: int | None = None


class DeletedPod(BaseModel):
    pod: str
    namespace: str
    owner: str | None = None
    replaced: str = Field(description="What happens next: recreated by its owner, or gone.")
