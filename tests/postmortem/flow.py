"""The seed's incident from the page to the close, played through PAII's tools, with the clock moving:

01:20 the first liveness probe fails (seeded Kubernetes events), 01:46 PagerDuty pages (seeded),
02:00 declared (acknowledged, channel, on-call invited, kickoff, Jira ticket, history record) and
the acknowledgement said in the channel, 02:04 troubleshooting (pods, dbstats pasted), 02:06 a
runbook step, 02:10 mitigated (rollout restart, recorded, said in the channel), 02:12 a status
update to the stakeholders, 02:30 resolved (PagerDuty, Jira, history).
"""

from __future__ import annotations

from typing import Any

from tests.postmortem.conftest import CHANNEL, INCIDENT

TICKET = "INC-789"


async def run_incident(d: Any) -> dict[str, Any]:
    d.tick("02:00")
    await d.call("pagerduty", "acknowledge_incident", incident_id=INCIDENT)
    channel = await d.call("slack", "create_channel", name=CHANNEL.lstrip("#"), topic="Incident: payments-api 500s",
                           members=["scott@example.com", "priya@example.com"])
    await d.call("slack", "post_message", channel=CHANNEL,
                 text="🚨 Incident declared: payments-api returning 500s. PagerDuty #12345.")
    ticket = await d.call("jira", "create_issue", summary="payments-api-500s: 500 errors in production",
                          dedupe_key=INCIDENT, priority="Highest")
    assert ticket["key"] == TICKET
    await d.call("history", "record_incident", id=TICKET, title="payments-api-500s: 500 errors in production",
                 service="payments-api", severity="SEV1", status="investigating", started="2026-01-02T01:46:00Z",
                 tags=["database", "connection-pool"],
                 links={"pagerduty": f"https://acme-sandbox.pagerduty.com/incidents/{INCIDENT}", "jira": ticket["url"]})
    await d.call("slack", "post_message", channel=CHANNEL, text="Acknowledged PagerDuty #12345: Scott is on it.")

    d.tick("02:04")
    pods = await d.call("kubernetes", "list_pods", namespace="payments", selector="app=payments-api")
    stats = await d.call("kubernetes", "exec_in_pod", pod=pods["pods"][0]["name"], namespace="payments",
                         argv=["python", "manage.py", "dbstats"])
    assert "98/100" in stats["stdout"]
    await d.call("slack", "post_message", channel=CHANNEL,
                 text="```kubectl exec payments-api -- python manage.py dbstats```\nActive connections: 98/100")

    d.tick("02:06")
    run = await d.call("runbook", "start_run", name="payments-api-health-check", dry_run=False)
    step = await d.call("runbook", "run_step", run_id=run["run_id"], step_id="1")
    assert step["status"] == "passed"
    await d.call("runbook", "finish_run", run_id=run["run_id"], outcome="aborted", notes="pool exhausted: restarting")

    d.tick("02:10")
    await d.call("kubernetes", "restart_deployment", name="payments-api", namespace="payments", timeout=5)
    await d.call("history", "record_incident", id=TICKET, status="mitigated")
    await d.call("slack", "post_message", channel=CHANNEL, text="Mitigated: pods restarted, error rate back to normal.")

    d.tick("02:12")
    update = ("Impact: card payments failing since 01:46 UTC. Known: database connection pool exhausted. "
              "Doing: pods restarted, watching. Next update: 02:45 UTC.")
    await d.call("pagerduty", "post_status_update", incident_id=INCIDENT, message=update)
    await d.call("slack", "post_message", channel="stakeholders", text=f"Status update: {update}")

    d.tick("02:30")
    await d.call("pagerduty", "resolve_incident", incident_id=INCIDENT, resolution="Restarted pods; pool back to 12/100")
    await d.call("jira", "transition_issue", key=TICKET, status="Done")
    await d.call("history", "record_incident", id=TICKET, status="resolved", resolved="2026-01-02T02:30:00Z",
                 root_cause="Database connection pool exhaustion: the settlement batch held 62 of 100 connections.",
                 resolution="Restarted payments-api pods; the batch job was paused.")
    return {"run_id": run["run_id"], "channel": channel["id"], "ticket": TICKET}


async def read_timelines(d: Any, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """What the postmortem skill does first: each server's get_timeline (a gap for what fails)."""
    calls = {
        "pagerduty": ("get_timeline", {"incident_id": INCIDENT}),
        "slack": ("get_timeline", {"channel": CHANNEL, "since": "2026-01-02T01:40:00Z", "until": "2026-01-02T02:35:00Z"}),
        "jira": ("get_timeline", {"key": TICKET}),
        "kubernetes": ("list_events", {"namespace": "payments", "name": "payments-api",
                                       "since": "2026-01-02T01:00:00Z/2026-01-02T02:35:00Z"}),
        "runbook": ("get_timeline", {"since": "2026-01-02T01:40:00Z", "until": "2026-01-02T02:35:00Z"}),
    }
    sources = []
    for server, (tool, args) in calls.items():
        if server in skip or server not in d.clients:
            sources.append({"source": server, "gap": "not configured"})
            continue
        result = await d.raw(server, tool, **args)
        if result.is_error:
            text = " ".join(getattr(c, "text", "") for c in result.content or [])
            sources.append({"source": server, "gap": text[:200]})
        else:
            sources.append(result.structured_content)
    return sources


def event_of(merged: dict[str, Any], moment: str) -> dict[str, Any]:
    return next(e for e in merged["events"] if e["moment"] == moment)


def draft_for(merged: dict[str, Any], *, cite: bool = True) -> str:
    """The draft the model writes: prose citing the timeline's events (or [input])."""
    ids = {m["name"]: m["event_id"] for m in merged["moments"]}

    def c(*names: str) -> str:  # cite the moments the timeline has; what it lacks is the person's word
        if not cite:
            return ""
        found = [ids[n] for n in names if n in ids]
        return " [" + ", ".join(found or ["input"]) + "]"

    durations = {x["name"]: x["text"] for x in merged["durations"]}
    durations = {n: durations.get(n, "time unknown") for n in ("time to detect", "time to acknowledge", "time to mitigate")}
    return f"""## Summary

payments-api returned 500s for card payments until the pods were restarted.{c("detected", "mitigated")}

## Impact

- Card payments failed from the page to the restart ({durations["time to mitigate"]}).{c("detected", "mitigated")}
- Checkout users saw errors; the number of failed payments is not in the sources. [input]

## Timeline

(rendered from the merged timeline)

## Root cause and trigger

- The settlement batch held 62 of the 100 database connections, exhausting the pool.{c("resolved")}

## Resolution

- The payments-api pods were restarted, then the incident was resolved.{c("mitigated", "resolved")}

## Detection

- Liveness probes failed before anyone was paged ({durations["time to detect"]}).{c("started", "detected")}

## What went well

- The page was acknowledged in {durations["time to acknowledge"]}.{c("acknowledged")}

## What went poorly

- The pool alert from INC-456 was not finished. [INC-456]

## Where we got lucky

- The batch job finished its run soon after the restart. [input]

## Action items

- Alert on connection pool use above 80% (owner: Priya Raman, due: 2026-01-09){c("started")}
- Cap the settlement batch at 10 connections (owner: Scott Idler, due: 2026-01-16) [input]
"""


def save_args(draft: str, meeting: str | None = None) -> dict[str, Any]:
    """How the skill saves a post-mortem: capture in category postmortems, naming the incident."""
    meta = {"incident": TICKET, **({"meeting": meeting} if meeting else {})}
    return {"category": "postmortems", "title": f"Post-mortem: {TICKET}", "content": draft, "metadata": meta}
