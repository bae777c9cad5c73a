"""The Kubernetes and runbook halves of the timeline, on records of their own (no servers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from paii_common.errors import InvalidInput
from paii_kubernetes import timeline as k8s
from paii_runbook import timeline as rb

T0 = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def event(kind: str, name: str, reason: str, type_: str, first: str, last: str, count: int = 1) -> dict:
    return {"type": type_, "reason": reason, "message": f"{reason} happened", "count": count,
            "involvedObject": {"kind": kind, "name": name}, "firstTimestamp": f"2026-01-02T{first}:00Z",
            "lastTimestamp": f"2026-01-02T{last}:00Z"}


def test_a_workloads_events_cover_its_replicasets_and_pods_and_fold_repeats():
    items = [event("Pod", "payments-api-7d9f8b6c5-x2k9p", "Unhealthy", "Warning", "01:20", "01:40", 14),
             event("Pod", "payments-api-7d9f8b6c5-x2k9p", "Unhealthy", "Warning", "01:58", "01:59", 9),
             event("Deployment", "payments-api", "ScalingReplicaSet", "Normal", "02:10", "02:10"),
             event("Pod", "payments-api-worker-1", "Pulled", "Normal", "02:11", "02:11"),
             event("Pod", "orders-api-1", "Unhealthy", "Warning", "01:30", "01:30"),
             event("Pod", "payments-api-old", "BackOff", "Warning", "00:10", "00:20")]
    line = k8s.build(items, "payments", "payments-api", T0, T1)
    got = [(e.time[11:16], e.kind, e.event) for e in line.events]
    assert got[0] == ("01:20", "signal", "Kubernetes payments pod payments-api-7d9f8b6c5-x2k9p: Warning Unhealthy x23, last 01:59")
    assert ("02:10", "change", "Kubernetes payments deployment payments-api: Normal ScalingReplicaSet x1") in got
    assert not any("orders-api" in e.event for e in line.events)  # another workload
    assert not any("BackOff" in e.event for e in line.events)  # before the window
    assert line.events[0].text.startswith("<<untrusted kubernetes event>>")


@pytest.mark.parametrize(("since", "start", "end"), [
    ("2026-01-02T01:00:00Z/2026-01-02T03:00:00Z", "01:00", "03:00"),
    ("2026-01-02T01:30:00Z", "01:30", None),
])
def test_the_window_is_an_age_an_iso_start_or_an_iso_interval(monkeypatch, since, start, end):
    monkeypatch.setenv("PAII_NOW", "2026-01-02T02:30:00Z")
    begin, finish = k8s.window(since)
    assert begin.strftime("%H:%M") == start and finish.strftime("%H:%M") == (end or "02:30")
    with pytest.raises(InvalidInput, match="must be before"):
        k8s.window("2026-01-02T03:00:00Z/2026-01-02T01:00:00Z")


def _run(root, rid: str, **extra) -> None:
    state = {"id": rid, "runbook": "payments-api-health-check", "operator": "Scott", "started": "2026-01-02T02:06:00Z",
             "status": "finished", "finished": "2026-01-02T02:08:00Z", "outcome": "completed", "order": ["1", "2"],
             "steps": {"1": {"title": "Migrations applied", "attempts": [
                 {"started": "2026-01-02T02:06:10Z", "status": "passed", "exit_code": 0, "duration_s": 1.2, "output": "ok"}]},
                 "2": {"title": "Restart pods", "attempts": [
                     {"started": "2026-01-02T02:07:00Z", "status": "passed", "exit_code": 0, "duration_s": 9.0,
                      "approval": {"by": "Priya", "via": "approve_step", "at": "2026-01-02T02:06:55Z"}}]}}, **extra}
    folder = root / "finished"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}.json").write_text(json.dumps(state))


def test_runbook_steps_are_events_and_an_approved_step_is_a_change(tmp_path, monkeypatch):
    monkeypatch.setenv("PAII_NOW", "2026-01-02T03:00:00Z")
    _run(tmp_path, "hc-1")
    _run(tmp_path, "other-1", runbook="database-failover", started="2026-01-02T02:20:00Z", order=[], steps={})
    line = rb.build(tmp_path, "2026-01-02T02:00:00Z", "", "payments-api-health-check")
    got = [(e.time[11:19], e.kind, e.event) for e in line.events]
    assert got == [
        ("02:06:00", "other", "Runbook payments-api-health-check: run started by Scott"),
        ("02:06:10", "step", "Runbook payments-api-health-check step 1 (Migrations applied): passed, exit 0, 1.2 s"),
        ("02:07:00", "change", "Runbook payments-api-health-check step 2 (Restart pods): passed, exit 0, 9.0 s, approved by Priya"),
        ("02:08:00", "other", "Runbook payments-api-health-check: run finished (completed)"),
    ]
    assert line.events[-1].ref == "hc-1" and line.events[1].text == "<<untrusted command output>>\nok\n<<end untrusted>>"
