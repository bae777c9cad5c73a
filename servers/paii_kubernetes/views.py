"""Kubernetes JSON (plain dicts) -> the lean models the model sees. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paii_common import clock
from paii_common.redact import redact
from paii_common.untrusted import NOTE, fence

from paii_kubernetes.client import mask_secrets, pod_is_ready
from paii_kubernetes.envguard import mask as mask_env
from paii_kubernetes.models import (
    Condition,
    Container,
    Deployment,
    ExecOutput,
    ExecResult,
    FoldedEvent,
    PodSummary,
    Revision,
    Termination,
)

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
MAX_ENV = 30
MAX_MESSAGE = 300
OUTPUT_LABEL = "command output"


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: str | None, now: datetime | None = None) -> str:
    """``3d4h``, ``25m``, ``40s`` since an RFC 3339 time; ``?`` when unknown."""
    when = parse_ts(value)
    if when is None:
        return "?"
    secs = int(((now or clock.now()) - when).total_seconds())
    if secs < 0:
        return "0s"
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    mins, secs = divmod(rem, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{mins}m" if mins else f"{hours}h"
    return f"{mins}m" if mins else f"{secs}s"


def _short(text: Any, limit: int = MAX_MESSAGE) -> str | None:
    if text is None:
        return None
    text = " ".join(redact(str(text)).split())  # masked before the cut: no half token is left
    return text if len(text) <= limit else text[: limit - 1] + "…"


def termination(state: dict[str, Any] | None) -> Termination | None:
    term = (state or {}).get("terminated")
    if not term:
        return None
    return Termination(reason=term.get("reason"), exit_code=term.get("exitCode"), finished=term.get("finishedAt"))


def state_text(state: dict[str, Any] | None) -> str | None:
    for key, value in (state or {}).items():
        if isinstance(value, dict):
            reason = value.get("reason")
            return f"{key} ({reason})" if reason else key
    return None


def pod_summary(pod: dict[str, Any], now: datetime | None = None) -> PodSummary:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(spec.get("containers") or statuses) or len(statuses)
    last = None
    for c in sorted(statuses, key=lambda c: -(c.get("restartCount") or 0)):
        last = termination(c.get("lastState")) or termination(c.get("state"))
        if last:
            break
    phase = status.get("phase") or "Unknown"
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    waiting = next((c["state"]["waiting"].get("reason") for c in statuses
                    if (c.get("state") or {}).get("waiting") and c["state"]["waiting"].get("reason")), None)
    if waiting:
        phase = f"{phase} ({waiting})"
    return PodSummary(
        name=meta.get("name") or "?",
        phase=phase,
        ready=f"{ready}/{total}",
        restarts=sum(c.get("restartCount") or 0 for c in statuses),
        last_termination=last,
        age=age(meta.get("creationTimestamp"), now),
        node=spec.get("nodeName"),
    )


def triage_order(pod: dict[str, Any]) -> tuple:
    """Not-ready first, then most restarts, then name."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = sum(c.get("restartCount") or 0 for c in statuses)
    return (pod_is_ready(pod), -restarts, (pod.get("metadata") or {}).get("name") or "")


def env_line(env: dict[str, Any]) -> str:
    name = env.get("name") or "?"
    source = env.get("valueFrom") or {}
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"] or {}
        return f"{name}=<hidden: secret {ref.get('name')} key {ref.get('key')}>"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"] or {}
        return f"{name}=<configmap {ref.get('name')} key {ref.get('key')}>"
    if "fieldRef" in source:
        return f"{name}=<field {(source['fieldRef'] or {}).get('fieldPath')}>"
    if "resourceFieldRef" in source:
        return f"{name}=<resource {(source['resourceFieldRef'] or {}).get('resource')}>"
    return f"{name}={mask_secrets(_short(env.get('value', ''), 120) or '')}"


def container_detail(spec: dict[str, Any], status: dict[str, Any] | None) -> Container:
    status = status or {}
    env = [env_line(e) for e in (spec.get("env") or [])[:MAX_ENV]]
    for src in spec.get("envFrom") or []:
        if src.get("secretRef"):
            env.append(f"<all keys of secret {src['secretRef'].get('name')}: hidden>")
        elif src.get("configMapRef"):
            env.append(f"<all keys of configmap {src['configMapRef'].get('name')}>")
    res = spec.get("resources") or {}
    parts = [f"{kind} " + ",".join(f"{k}={v}" for k, v in sorted((res.get(kind) or {}).items()))
             for kind in ("requests", "limits") if res.get(kind)]
    return Container(
        name=spec.get("name") or "?",
        image=spec.get("image") or "?",
        ready=status.get("ready"),
        restarts=status.get("restartCount") or 0,
        state=state_text(status.get("state")),
        last_termination=termination(status.get("lastState")),
        env=env,
        resources="; ".join(parts) or None,
    )


def conditions(items: list[dict[str, Any]] | None) -> list[Condition]:
    return [Condition(type=c.get("type") or "?", status=c.get("status") or "?", reason=c.get("reason"),
                      message=_short(c.get("message"))) for c in items or []]


def fold_events(items: list[dict[str, Any]], limit: int) -> tuple[list[FoldedEvent], bool]:
    """Group events by (type, reason, object, message), adding their counts; warnings first, newest next."""
    groups: dict[tuple, dict[str, Any]] = {}
    for ev in items:
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        message = _short(ev.get("message") or ev.get("note") or "") or ""
        key = (ev.get("type") or "Normal", ev.get("reason") or "?", f"{obj.get('kind', '?')}/{obj.get('name', '?')}", message)
        last = ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("series") or {}).get("lastObservedTime") \
            or ev.get("firstTimestamp") or (ev.get("metadata") or {}).get("creationTimestamp")
        count = int(ev.get("count") or (ev.get("series") or {}).get("count") or 1)
        g = groups.setdefault(key, {"count": 0, "last": None})
        g["count"] += count
        if last and (g["last"] is None or last > g["last"]):
            g["last"] = last
    folded = [FoldedEvent(type=k[0], reason=k[1], object=k[2], message=k[3], count=g["count"], last_seen=g["last"])
              for k, g in groups.items()]
    folded.sort(key=lambda e: e.last_seen or "", reverse=True)
    folded.sort(key=lambda e: e.type != "Warning")
    return folded[:limit], len(folded) > limit


def rollout_state(dep: dict[str, Any]) -> tuple[str, bool]:
    """(complete | progressing | stalled | paused, complete?) as ``kubectl rollout status`` decides."""
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    if spec.get("paused"):
        return "paused", False
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return "stalled", False
    desired = spec.get("replicas", 1)
    generation = (dep.get("metadata") or {}).get("generation") or 0
    done = ((status.get("observedGeneration") or 0) >= generation
            and (status.get("updatedReplicas") or 0) >= desired
            and (status.get("replicas") or 0) <= (status.get("updatedReplicas") or 0)
            and (status.get("availableReplicas") or 0) >= (status.get("updatedReplicas") or 0))
    return ("complete", True) if done else ("progressing", False)


def images(template: dict[str, Any]) -> list[str]:
    return [c.get("image") or "?" for c in ((template.get("spec") or {}).get("containers") or [])]


def selector_text(selector: dict[str, Any] | None) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def deployment_view(dep: dict[str, Any], replicasets: list[dict[str, Any]], *, context: str,
                    revisions: int = 5) -> Deployment:
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    uid = meta.get("uid")
    owned = [rs for rs in replicasets
             if not uid or any(o.get("uid") == uid for o in (rs.get("metadata") or {}).get("ownerReferences") or [])]
    revs = []
    for rs in owned:
        rmeta = rs.get("metadata") or {}
        ann = rmeta.get("annotations") or {}
        try:
            number = int(ann.get(REVISION, "0"))
        except ValueError:
            number = 0
        revs.append(Revision(revision=number, replicaset=rmeta.get("name") or "?",
                             images=images((rs.get("spec") or {}).get("template") or {}),
                             created=rmeta.get("creationTimestamp"),
                             replicas=(rs.get("status") or {}).get("replicas") or 0,
                             change_cause=_short(ann.get(CHANGE_CAUSE), 160)))
    revs.sort(key=lambda r: -r.revision)
    state, _ = rollout_state(dep)
    return Deployment(
        context=context,
        namespace=meta.get("namespace") or "?",
        name=meta.get("name") or "?",
        desired=spec.get("replicas", 1),
        ready=status.get("readyReplicas") or 0,
        updated=status.get("updatedReplicas") or 0,
        available=status.get("availableReplicas") or 0,
        rollout=state,
        conditions=conditions(status.get("conditions")),
        images=images(spec.get("template") or {}),
        selector=selector_text(spec.get("selector")),
        revisions=revs[:revisions],
    )


def exec_output(pod: str, container: str | None, argv: list[str], result: ExecResult,
                secret_env: Mapping[str, str] | None = None) -> ExecOutput:
    """What a command printed, fenced, with secrets masked: the token shapes (already, in the client),
    then ``NAME=value`` for the pod's Secret-backed names and names that look secret, and URL passwords."""
    return ExecOutput(
        note=NOTE, pod=pod, container=container, argv=argv, exit_code=result.exit_code, timed_out=result.timed_out,
        truncated=result.truncated, duration_s=result.duration_s,
        stdout=fence(mask_env(result.stdout, secret_env), OUTPUT_LABEL),
        stderr=fence(mask_env(result.stderr, secret_env), OUTPUT_LABEL) if result.stderr else "",
    )
