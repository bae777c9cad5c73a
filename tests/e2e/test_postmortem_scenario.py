"""The Post-mortem scenario (``make demo``'s last block) through PAII's servers against the sandbox:
the seed's auth-service incident of the night before, from its sources to the saved draft, its
tickets and the handoff line."""

from __future__ import annotations

from paii_sandbox import renderers, scenario

from tests.e2e.conftest import NOW_ISO, state


async def _run(clients, name: str, **kwargs):
    async with clients(**kwargs) as c:
        run = await scenario.run(scenario.load(name), c, now=NOW_ISO)
    return run, renderers.render(run)


async def test_the_demo_timeline_has_every_source_in_order_with_computed_durations(sandbox, clients):
    run, report = await _run(clients, "postmortem")
    assert not run.failed
    merged = run.data("merged")
    times = [e["time"] for e in merged["events"]]
    assert times == sorted(times)
    seen = {s for e in merged["events"] for s in e["sources"]}
    assert {"pagerduty", "slack", "jira", "kubernetes", "history"} <= seen
    assert merged["took"] == {"detect": "2 min", "acknowledge": "8 min", "mitigate": "1 h 10 min", "resolve": "1 h 20 min"}
    ack = next(e for e in merged["events"] if e.get("moment") == "acknowledged")
    assert ack["time"] == "2026-01-01T09:08:00Z" and ack["sources"] == ["pagerduty", "slack"]  # one event, two links
    assert merged["gaps"] == [] and merged["recurrence"]["summary"].startswith("2nd cpu incident on auth-service")
    assert "time to acknowledge: 8 min · time to mitigate: 1 h 10 min" in report
    assert f"{ack['id']} 09:08 [PagerDuty+Slack] PagerDuty: acknowledged by Scott Idler ◀ acknowledged" in report


async def test_the_demo_draft_cites_the_moments_and_its_tickets_are_made_once(sandbox, clients):
    first, _ = await _run(clients, "postmortem")
    second, report = await _run(clients, "postmortem")
    at = first.data("merged")["at"]
    preview = "\n".join(first.data("saved")["preview"])
    assert f"[{at['detected']}, {at['mitigated']}]" in preview and "(1 h 10 min)" in preview
    made = [t["key"] for t in first.data("tickets")]
    assert [t["created"] for t in first.data("tickets")] == [True, True]
    assert [t["key"] for t in second.data("tickets")] == made and not any(t["created"] for t in second.data("tickets"))
    mine = [i for i in state(sandbox, "jira")["issues"].values() if "postmortem-INC-788" in i["labels"]]
    assert sorted(i["key"] for i in mine) == sorted(made)
    assert "already open" in report and "POST-MORTEM DRAFT updated in history/postmortems/2026-01/INC-788-postmortem.md" in report


async def test_the_handoff_after_the_post_mortem_shows_its_scheduled_meeting(sandbox, clients):
    _, report = await _run(clients, "postmortem")
    assert "The next on-call handoff says: Post-mortem: Scheduled for 2026-01-03 15:00 UTC (INC-788)" in report
    handoff, text = await _run(clients, "handoff")
    assert not handoff.failed
    block = text.split("INC-788: auth-service-latency (PagerDuty #12341)")[1].split("ALERTS")[0]
    assert "- Post-mortem: Scheduled for 2026-01-03 15:00 UTC" in block


async def test_without_jira_the_demo_timeline_names_the_gap_and_no_ticket_is_made(sandbox, clients):
    run, report = await _run(clients, "postmortem", jira=False)
    merged = run.data("merged")
    assert merged is not None and not any("jira" in e["sources"] for e in merged["events"])
    assert any(g.startswith("Jira ") and g.endswith(" missing") for g in merged["gaps"])
    assert "⚠️ Jira " in report and "ACTION ITEMS: Jira" in report
    assert sandbox.world.requests("jira") == []
