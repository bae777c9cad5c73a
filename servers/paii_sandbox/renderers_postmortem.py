"""Report blocks of the Post-mortem scenario (registered in renderers.py).

``timeline`` shows the merged timeline as the history computed it: the key moments with their
basis, the durations, each event with its sources (several when two witnessed one moment), the
coverage of each source and the gaps by name. ``postmortem`` shows where the draft was saved, its
first lines, the action items' tickets (made, or found by their dedupe key) and the post-mortem
line the next on-call handoff reads from the incident's record.
"""

from __future__ import annotations

from paii_sandbox.renderers import INJECTION, day_hhmm, quote, renderer, why_not
from paii_sandbox.scenario import SERVICE_NAMES, Run

EVENTS_SHOWN = 24
PREVIEW_LINES = 12


@renderer("timeline")
def timeline(run: Run) -> list[str]:
    merged = run.data("merged")
    if merged is None:
        return ["🧭 INCIDENT TIMELINE: " + why_not(run, run.outcomes.get("merged"), "history")]
    out = [f"🧭 INCIDENT TIMELINE: {merged['incident_id']} ({day_hhmm(merged['since'])} to {day_hhmm(merged['until'])} UTC)",
           "", "  KEY MOMENTS (computed by the history server from the events):"]
    for m in merged["moments"]:
        out.append(f"    {m['name']:<13}{day_hhmm(m['time'])}  {m['basis']}")
    if merged["durations"]:
        out.append("    " + " · ".join(f"{d['name']}: {d['text']}" for d in merged["durations"]))
    out += ["", "  EVENTS:"]
    for e in merged["events"][:EVENTS_SHOWN]:
        names = "+".join(SERVICE_NAMES.get(s, s) for s in e["sources"])
        mark = f" ◀ {e['moment']}" if e.get("moment") else ""
        text = f" {quote(e['text'], 70)}" if e.get("text") else ""
        flag = " ⚠️ instructions inside: data, ignored" if INJECTION.search(e.get("text") or "") else ""
        out.append(f"    {e['id']:>4} {e['time'][11:16]} [{names}] {e['event']}{text}{flag}{mark}")
    if len(merged["events"]) > EVENTS_SHOWN:
        out.append(f"    … {len(merged['events']) - EVENTS_SHOWN} more in the saved post-mortem")
    out += ["", "  SOURCES: " + ", ".join(
        f"{SERVICE_NAMES.get(c['source'], c['source'])} {c['events'] if c['status'] != 'gap' else 'gap'}" for c in merged["coverage"])]
    for gap in merged["gaps"]:
        out.append(f"  ⚠️ {gap}")
    rec = merged.get("recurrence") or {}
    if rec.get("summary"):
        out.append(f"  🔁 {rec['summary']}")
    return out


@renderer("postmortem")
def postmortem(run: Run) -> list[str]:
    saved = run.data("saved")
    if saved is None:
        return ["📝 POST-MORTEM DRAFT: " + why_not(run, run.outcomes.get("saved"), "history")]
    verb = "saved to" if saved.get("created") else "updated in"
    out = [f"📝 POST-MORTEM DRAFT {verb} {saved['path']} (markdown a team can keep in git)", ""]
    out += [f"  │ {line}" for line in (saved.get("preview") or [])[:PREVIEW_LINES]]
    out.append("  │ …")
    tickets = run.outcomes.get("tickets")
    items = saved.get("action_items") or []
    if tickets is not None and tickets.ok:
        out += ["", "  ACTION ITEMS (one Jira ticket each, linked to the incident ticket):"]
        for item, made in zip(items, tickets.data, strict=False):
            state = "created" if made.get("created") else "already open"
            out.append(f"    {made['key']} {item['title']} (owner: {item['owner']}, due: {item['due']}): {state}")
    elif items:
        out += ["", "  ACTION ITEMS: " + why_not(run, tickets, "jira")]
    # what the next on-call handoff reads from the incident's record (history recent)
    entries = (run.data("handoff") or {}).get("entries") or []
    rec = next((e for e in entries if e.get("category") == "incidents" and e.get("id") == run.context["vars"].get("incident")), None)
    if rec is not None:
        out += ["", f"  The next on-call handoff says: Post-mortem: {rec.get('postmortem') or 'not scheduled'} ({rec['id']})"]
    elif saved.get("meeting"):
        out += ["", f"  Post-mortem meeting: {saved['meeting']} ({why_not(run, run.outcomes.get('handoff'), 'history')})"]
    return out
