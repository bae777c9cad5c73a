"""State of the sandbox Kubernetes service: pods, deployments with revisions, events, logs and
exec answers, built from the seed; plus the small rules the app applies (selectors, logs, exec)."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_REL = re.compile(r"^([+-])((?:\d+[dhms])*)(?:(\d{1,2}):(\d{2}))?$")
CORE, APPS = "/api/v1/namespaces/{ns}", "/apis/apps/v1/namespaces/{ns}"


def rel_time(value: Any, now: datetime) -> datetime:
    """``-3d``, ``-12m``, ``+1d02:00`` (relative to now) or an ISO time."""
    text = str(value).strip()
    m = _REL.match(text)
    if not m:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = timedelta()
    for num, unit in re.findall(r"(\d+)([dhms])", m.group(2)):
        delta += timedelta(**{{"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}[unit]: int(num)})
    if m.group(3):
        delta += timedelta(hours=int(m.group(3)), minutes=int(m.group(4)))
    return now + delta if m.group(1) == "+" else now - delta


def ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suffix(seed: str, n: int = 5) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def uid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass
class Pod:
    name: str
    namespace: str
    owner: str  # "ReplicaSet/payments-api-7d9f8b6c5", "StatefulSet/primary-postgres" or ""
    labels: dict[str, str]
    image: str
    container: str
    created: datetime
    node: str
    fresh: bool = False
    restarts: int = 0
    ready: bool = True
    started: datetime | None = None
    last_termination: dict[str, Any] | None = None
    env: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    secret_volume: str | None = None
    port: int = 8000
    deployment: str | None = None


@dataclass
class Dep:
    name: str
    namespace: str
    spec: dict[str, Any]  # the seed entry
    replicas: int
    revisions: list[dict[str, Any]]  # {revision, hash, image, created, change_cause, restarted_at}
    created: datetime
    generation: int = 1
    pending: int = 0  # old pods still to replace in a rollout


@dataclass
class State:
    token: str
    context: str
    user: str
    now: datetime
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    deps: dict[tuple[str, str], Dep] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)  # namespace or ns/deployment -> {current, previous, fresh}
    exec_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: int = 0
    execs: list[dict[str, Any]] = field(default_factory=list)  # every command run in a pod: what ran, where, when


def seed(data: dict[str, Any], now: datetime) -> State:
    if not data.get("namespaces"):  # a world seeded before this part was folded into seed.yaml
        from paii_sandbox.services.kubernetes import load_seed

        data = {**load_seed(), **data}
    st = State(token=data.get("token", "sandbox-k8s-token-4b1d"), context=data.get("context", "paii-sandbox"),
               user=data.get("user", "oncall"), now=now)
    for ns, spec in (data.get("namespaces") or {}).items():
        st.exec_rules[ns] = list(spec.get("exec") or [])
        st.flags[ns] = dict(spec.get("flags") or {})
        st.logs[ns] = spec.get("logs") or {}
        for name, d in (spec.get("deployments") or {}).items():
            revs = [dict(r, created=rel_time(r["created"], now)) for r in d["revisions"]]
            dep = Dep(name=name, namespace=ns, spec=d, replicas=int(d["replicas"]), revisions=revs,
                      created=revs[0]["created"], generation=len(revs))
            st.deps[(ns, name)] = dep
            st.logs[f"{ns}/{name}"] = d.get("logs") or {}
            for p in d.get("pods") or []:
                pod = dep_pod(st, dep, f"{name}-{revs[-1]['hash']}-{p['suffix']}", rel_time(p["created"], now), p["node"])
                pod.restarts, pod.ready = int(p.get("restarts", 0)), bool(p.get("ready", True))
                pod.started = rel_time(p["started"], now) if p.get("started") else pod.created
                if p.get("last_termination"):
                    t = p["last_termination"]
                    pod.last_termination = {"reason": t["reason"], "exitCode": t["exit_code"],
                                            "startedAt": ts(rel_time(t["started"], now)),
                                            "finishedAt": ts(rel_time(t["finished"], now))}
                pod.fresh = False
        for p in spec.get("pods") or []:
            created = rel_time(p["created"], now)
            st.pods[(ns, p["name"])] = Pod(name=p["name"], namespace=ns, owner=p.get("owner", ""), labels=p.get("labels", {}),
                                           image=p["image"], container=p["container"], created=created, node=p["node"],
                                           started=created, port=int(p.get("port", 8000)))
        st.events[ns] = []
        for i, e in enumerate(spec.get("events") or []):
            kind, _, obj = e["object"].partition("/")
            add_event(st, ns, {"pod": "Pod", "deployment": "Deployment"}.get(kind, kind), obj, e["type"], e["reason"],
                   e["message"], count=int(e.get("count", 1)), first=rel_time(e["first"], now),
                   last=rel_time(e["last"], now), key=str(i))
    return st


def dep_pod(st: State, dep: Dep, name: str, created: datetime, node: str) -> Pod:
    d, rev = dep.spec, dep.revisions[-1]
    pod = Pod(name=name, namespace=dep.namespace, owner=f"ReplicaSet/{dep.name}-{rev['hash']}",
              labels={**d["labels"], "pod-template-hash": rev["hash"]}, image=rev["image"], container=d["container"],
              created=created, node=node, fresh=True, started=created, env=d.get("env", []),
              resources=d.get("resources", {}), secret_volume=d.get("secret_volume"), port=int(d.get("port", 8000)),
              deployment=dep.name)
    st.pods[(dep.namespace, name)] = pod
    return pod


def new_pod(st: State, dep: Dep, now: datetime) -> Pod:
    st.counter += 1
    rs = f"{dep.name}-{dep.revisions[-1]['hash']}"
    nodes = sorted({p.node for p in st.pods.values() if p.namespace == dep.namespace} or {"node-a"})
    return dep_pod(st, dep, f"{rs}-{suffix(f'{rs}/{st.counter}')}", now, nodes[st.counter % len(nodes)])


def add_event(st: State, ns: str, kind: str, obj: str, type_: str, reason: str, message: str, *, count: int = 1,
           first: datetime, last: datetime, key: str | None = None) -> None:
    key = key or f"x{len(st.events.setdefault(ns, []))}"
    st.events.setdefault(ns, []).append({
        "apiVersion": "v1", "kind": "Event", "type": type_, "reason": reason, "message": message, "count": count,
        "metadata": {"name": f"{obj}.{suffix(ns + obj + key, 8)}", "namespace": ns, "creationTimestamp": ts(first),
                     "uid": uid(ns + obj + key)},
        "involvedObject": {"kind": kind, "name": obj, "namespace": ns, "apiVersion": "apps/v1" if kind == "Deployment" else "v1"},
        "source": {"component": "kubelet" if kind == "Pod" else "deployment-controller"},
        "firstTimestamp": ts(first), "lastTimestamp": ts(last), "reportingComponent": "", "reportingInstance": "",
    })


def dep_counts(st: State, dep: Dep) -> tuple[list[Pod], list[Pod]]:
    rs = f"ReplicaSet/{dep.name}-{dep.revisions[-1]['hash']}"
    pods = [p for p in st.pods.values() if p.namespace == dep.namespace and p.deployment == dep.name]
    return pods, [p for p in pods if p.owner == rs]


def label_match(selector: str, labels: dict[str, str]) -> bool:
    for term in re.split(r",(?![^()]*\))", selector or ""):
        term = term.strip()
        if not term:
            continue
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", term)
        if m:
            vals = {v.strip() for v in m.group(3).split(",")}
            if (labels.get(m.group(1)) in vals) != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def log_text(st: State, pod: Pod, previous: bool) -> list[tuple[datetime, str]] | None:
    logs = st.logs.get(f"{pod.namespace}/{pod.deployment}") or st.logs.get(pod.namespace) or {}
    which = "previous" if previous else ("fresh" if pod.fresh and logs.get("fresh") else "current")
    if previous and not pod.last_termination:
        return None
    lines = [(rel_time(t, st.now), text) for t, text in logs.get(which) or []]
    if pod.fresh:  # a fresh pod's lines start after it did
        lines = [(max(when, pod.created), text) for when, text in lines]
    return lines


def exec_answer(st: State, pod: Pod, argv: list[str]) -> dict[str, Any]:
    if not hasattr(st, "execs"):  # a world saved before execs were recorded
        st.execs = []
    st.execs.append({"namespace": pod.namespace, "pod": pod.name, "argv": list(argv), "at": ts(st.now)})
    flags = st.flags.setdefault(pod.namespace, {})
    for rule in st.exec_rules.get(pod.namespace) or []:
        if "argv" in rule and [str(a) for a in rule["argv"]] != argv:
            continue
        if "argv_prefix" in rule and argv[:len(rule["argv_prefix"])] != [str(a) for a in rule["argv_prefix"]]:
            continue
        if "pods" in rule and not fnmatch.fnmatch(pod.name, rule["pods"]):
            continue
        if "fresh" in rule and bool(rule["fresh"]) != pod.fresh:
            continue
        if any(flags.get(k) != v for k, v in (rule.get("when") or {}).items()):
            continue
        flags.update(rule.get("set") or {})
        return rule
    return {"stderr": f"sandbox: no answer for {argv!r} in seed kubernetes.namespaces.{pod.namespace}.exec\n", "exit": 127}
