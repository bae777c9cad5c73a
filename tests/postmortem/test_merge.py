"""The merge's rules on small inputs (pure functions, no servers): order, duplicates, the moments
and their authority, computed durations, named gaps; and the draft's checks."""

from __future__ import annotations

import pytest

from paii_common import timeline as tl
from paii_common.errors import InvalidInput
from paii_history.postmortem import check_draft
from paii_history.timeline import duration_text, merge, parse_sources


def ev(time: str, source: str, kind: str, event: str = "", ref: str | None = None, link: str | None = None) -> dict:
    return {"time": f"2026-01-02T{time}:00Z", "source": source, "kind": kind, "event": event or f"{source} {kind}",
            "ref": ref, "link": link}


def src(source: str, *events: dict, **extra) -> dict:
    return {"source": source, "since": "2026-01-02T01:00:00Z", "until": "2026-01-02T03:00:00Z", "events": list(events), **extra}


def run(*sources: dict):
    return merge("INC-1", parse_sources(list(sources)))


def moments(m) -> dict[str, str]:
    return {x.name: x.time[11:16] for x in m.moments}


def test_events_are_ordered_by_time_then_source_and_numbered():
    m = run(src("slack", ev("01:50", "slack", "message")), src("pagerduty", ev("01:50", "pagerduty", "note"), ev("01:40", "pagerduty", "detected")))
    assert [(e.id, e.time[11:16], e.sources) for e in m.events] == [
        ("E1", "01:40", ["pagerduty"]), ("E2", "01:50", ["pagerduty"]), ("E3", "01:50", ["slack"])]


def test_the_same_record_passed_twice_is_one_event():
    once = ev("01:50", "pagerduty", "note", ref="N1")
    m = run(src("pagerduty", once, once), src("pagerduty", once))
    assert len(m.events) == 1


def test_one_moment_seen_by_two_sources_within_five_minutes_is_one_event_with_both_links():
    m = run(src("slack", ev("02:03", "slack", "acknowledged", "said so", link="https://slack/1")),
            src("pagerduty", ev("02:00", "pagerduty", "acknowledged", "PagerDuty: acknowledged by A", link="https://pd/1")))
    assert len(m.events) == 1
    e = m.events[0]
    assert e.sources == ["pagerduty", "slack"] and e.links == ["https://pd/1", "https://slack/1"]
    assert e.event == "PagerDuty: acknowledged by A" and e.time.endswith("02:00:00Z")


def test_the_same_moment_far_apart_stays_two_events():
    m = run(src("slack", ev("02:20", "slack", "acknowledged")), src("pagerduty", ev("02:00", "pagerduty", "acknowledged")))
    assert len(m.events) == 2 and moments(m)["acknowledged"] == "02:00"


def test_a_shared_ref_across_sources_is_one_event():
    m = run(src("runbook", ev("02:06", "runbook", "other", "run finished", ref="run-1")),
            src("history", ev("02:06", "history", "entry", "entry saved", ref="run-1")))
    assert len(m.events) == 1 and m.events[0].sources == ["runbook", "history"]


def test_moments_and_durations_are_computed_from_the_events():
    m = run(src("kubernetes", ev("01:20", "kubernetes", "signal"), ev("02:10", "kubernetes", "change")),
            src("pagerduty", ev("01:46", "pagerduty", "detected"), ev("02:00", "pagerduty", "acknowledged"),
                ev("02:30", "pagerduty", "resolved")))
    assert moments(m) == {"started": "01:20", "detected": "01:46", "acknowledged": "02:00", "mitigated": "02:10",
                          "resolved": "02:30"}
    mitigated = next(x for x in m.moments if x.name == "mitigated")
    assert "inferred" in mitigated.basis  # nobody marked it: the first change after detection
    assert {d.name: d.seconds for d in m.durations} == {"time to detect": 1560, "time to acknowledge": 840,
                                                         "time to mitigate": 1440, "time to resolve": 2640}


def test_an_explicit_mitigation_wins_over_an_earlier_change():
    m = run(src("kubernetes", ev("02:05", "kubernetes", "change")),
            src("pagerduty", ev("01:46", "pagerduty", "detected")), src("slack", ev("02:15", "slack", "mitigated")))
    assert moments(m)["mitigated"] == "02:15"


def test_pagerduty_decides_the_resolution_even_when_jira_said_it_first():
    m = run(src("jira", ev("02:20", "jira", "resolved")), src("pagerduty", ev("01:46", "pagerduty", "detected"),
                                                              ev("02:40", "pagerduty", "resolved")))
    assert moments(m)["resolved"] == "02:40"


def test_without_a_page_the_first_report_is_the_detection():
    m = run(src("slack", ev("01:30", "slack", "joined"), ev("01:31", "slack", "report"), ev("01:35", "slack", "acknowledged")))
    assert moments(m)["detected"] == "01:31" and "the first report" in m.moments[0].basis


def test_every_source_not_given_is_a_named_gap_never_a_silent_hole():
    m = run(src("pagerduty", ev("01:46", "pagerduty", "detected")), {"source": "slack", "gap": "Slack is not configured: set X."})
    assert m.gaps == ["Slack is not configured: set X: chat events missing", "Jira not read: ticket events missing",
                      "Kubernetes not read: cluster events missing", "Runbook not read: runbook steps missing",
                      "History not read: history entries missing"]
    assert [c.status for c in m.coverage] == ["read", "gap", "gap", "gap", "gap", "gap"]


def test_a_source_cut_short_says_what_is_missing():
    m = run(src("slack", ev("01:50", "slack", "message"), truncated=True, truncated_reason="more than 300 messages"))
    assert "Slack read in part (more than 300 messages): some chat events missing" in m.gaps
    assert next(c for c in m.coverage if c.source == "slack").status == "truncated"


def test_a_list_events_result_passes_its_timeline_and_bad_input_names_the_field():
    k8s = {"note": "", "context": "c", "namespace": "payments", "events": [], "truncated": False,
           "timeline": src("kubernetes", ev("01:20", "kubernetes", "signal"))}
    assert parse_sources([k8s])[0].events[0].kind == "signal"
    with pytest.raises(InvalidInput, match="list_events result without a timeline"):
        parse_sources([{**k8s, "timeline": None}])
    with pytest.raises(InvalidInput, match=r"sources\[0\]\.source .* is not one of"):
        parse_sources([{"source": "datadog"}])
    with pytest.raises(InvalidInput, match="is not a time"):
        parse_sources([src("slack", {**ev("01:00", "slack", "message"), "time": "yesterday-ish"})])


@pytest.mark.parametrize(("seconds", "text"), [(42, "42 s"), (840, "14 min"), (3900, "1 h 05 min"), (200000, "2 d 7 h")])
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert duration_text(seconds) == text


def test_gap_text_names_the_service_once():
    assert tl.gap_text("slack", "Slack not configured") == "Slack not configured: chat events missing"
    assert tl.gap_text("jira", "down") == "Jira down: ticket events missing"


# ---------------------------------------------------------------------- the draft's checks
TEMPLATE = {"Summary": "It broke. [E1]", "Impact": "- 24 min of errors. [E1, E2]", "Timeline": "",
            "Root cause and trigger": "- Pool exhausted. [input]", "Resolution": "- Restarted. [E2]",
            "Detection": "- Paged. [E1]", "What went well": "- Fast ack. [E1]", "What went poorly": "- Old alert. [INC-456]",
            "Where we got lucky": "- Quiet hour. [input]", "Action items": "- Alert on pool (owner: Ana, due: 2026-01-09) [E1]"}


def draft(**changes: str) -> str:
    parts = {**TEMPLATE, **changes}
    return "\n\n".join(f"## {k}\n\n{v}" for k, v in parts.items() if v is not None)


def merged_two():
    return run(src("pagerduty", ev("01:46", "pagerduty", "detected"), ev("02:00", "pagerduty", "acknowledged")))


def test_a_complete_cited_draft_passes_and_its_action_items_are_parsed():
    _, items = check_draft(draft(), merged_two())
    assert items == [("Alert on pool", "Ana", "2026-01-09")]


@pytest.mark.parametrize(("change", "message"), [
    ({"Summary": "It broke."}, "summary: no source for \"It broke.\""),
    ({"Resolution": "- Restarted. [E7]"}, "E7 is not in the timeline (E1-E2)"),
    ({"Where we got lucky": None}, "missing section `## Where we got lucky`"),
    ({"Action items": "- Alert on pool [E1]"}, "needs an owner and a due date"),
    ({"Action items": "- Alert (owner: Ana, due: 2026-02-31) [E1]"}, "is not a date"),
])
def test_a_draft_with_an_untraceable_statement_is_refused_and_says_which(change, message):
    with pytest.raises(InvalidInput, match="cannot be saved yet") as err:
        check_draft(draft(**change), merged_two())
    assert message in str(err.value)
