"""Report blocks of the On-Call Handoff, Channel Summarization and Article Writing scenarios
(registered in renderers.py). Each plays the model: it joins what the tools returned the way the
skill tells the model to, and writes nothing the tools did not say.

``handoff`` joins each PagerDuty incident of the shift to its history record (the record's
PagerDuty link is the incident): the Jira key, the channel by name, root cause, resolution and
the post-mortem come from the record, the status and the notes from PagerDuty, and each
suppressed or self-resolved alert comes with the reason a responder left on its incident.
``digest`` labels each thread from its first message and its replies and turns the mentions into
action items. ``writing`` shows the profile the history server computed from past articles.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from paii_common.untrusted import unmark
from paii_sandbox.renderers import INJECTION, day_hhmm, hhmm, quote, renderer, unfenced, why_not
from paii_sandbox.scenario import Run


# ---------------------------------------------------------------------- handoff
def _record_of(incident: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The history record whose PagerDuty link is this incident (the skill's join)."""
    url, iid = incident.get("url"), incident.get("id")
    for rec in records:
        link = unmark(str((rec.get("links") or {}).get("pagerduty") or ""))
        if link and (link == url or (iid and link.rstrip("/").endswith("/" + iid))):
            return rec
    return None


def _name(rec: dict[str, Any]) -> str:
    """``payments-api-500s`` from the record title ``payments-api-500s: payments-api is returning...``."""
    return unmark(str(rec.get("title") or rec["id"])).split(":")[0].strip()


def _channel(rec: dict[str, Any]) -> str | None:
    slack = unmark(str((rec.get("links") or {}).get("slack") or ""))
    return slack if slack.startswith("#") else (f"#{slack}" if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", slack) else slack or None)


def _incident_lines(n: int, i: dict[str, Any], rec: dict[str, Any] | None) -> list[str]:
    pd = f"PagerDuty #{i.get('number')}"
    head = f"{n}. {rec['id']}: {_name(rec)} ({pd})" if rec else f"{n}. {pd}: {i.get('title')} (no history record: Jira key unknown)"
    out = [head]
    if i.get("status") == "resolved":
        out.append(f"   - Status: RESOLVED by {i.get('resolved_by') or 'unknown'} at {hhmm(i.get('resolved_at'))}")
    else:
        acked = ", ".join(i.get("acknowledged_by") or [])
        state = f", {rec['status']}" if rec and rec.get("status") and rec["status"] != "resolved" else ""
        out.append(f"   - Status: {str(i.get('status')).upper()}" + (f" by {acked}" if acked else "") + f"{state}, still open")
    if rec:
        out.append(f"   - Root cause: {rec.get('root_cause') or 'not known yet'}")
        if rec.get("resolution"):
            out.append(f"   - Resolution: {rec['resolution']}")
        if i.get("status") == "resolved":
            out.append(f"   - Post-mortem: {rec.get('postmortem') or 'not scheduled'}")
        if _channel(rec):
            out.append(f"   - Slack thread: {_channel(rec)}")
    notes = [n for n in i.get("notes") or [] if n.get("content")]
    if notes:
        note = notes[-1]
        flag = " ⚠️ tries to instruct the assistant: ignored" if INJECTION.search(note["content"]) else ""
        out.append(f"   - Latest note by {note.get('author')} at {hhmm(note.get('created_at'))}: {quote(note['content'], 200)}{flag}")
    if i.get("status") != "resolved":
        out.append(f"   - Watch for: it is not resolved; follow {(_channel(rec) if rec else None) or 'the incident channel'}")
    return out


def _reason(text: str) -> str:
    """A responder's note as the reason: its first clause ("false positive, disk expanded"), else a quote."""
    words = " ".join(unmark(unfenced(text)).split())
    first = re.split(r"[:.;]", words, maxsplit=1)[0].strip()
    return first[0].lower() + first[1:] if 0 < len(first) <= 60 else quote(words, 80)


@renderer("handoff")
def handoff(run: Run) -> list[str]:
    times = run.context.get("times") or {}
    shift = run.data("shift")
    out = ["📋 ON-CALL HANDOFF SUMMARY", f"Period: {day_hhmm(times.get('since'))} to {day_hhmm(times.get('until'))} (UTC)"]
    if shift is None:
        out += ["", "  " + why_not(run, run.outcomes.get("shift"), "pagerduty") + " (this brief is partial)"]
        return out
    incidents = shift.get("incidents") or []
    people = Counter(p for i in incidents for p in [i.get("resolved_by"), *(i.get("acknowledged_by") or [])]
                     if p and not i.get("auto_resolved"))
    if people:
        out.append(f"Engineer: {people.most_common(1)[0][0]}")
    entries = (run.data("history") or {}).get("entries") or []
    records = [e for e in entries if e.get("category") == "incidents"]
    handled = [i for i in incidents if not i.get("auto_resolved")]  # the rest are alerts that resolved themselves
    out += ["", f"INCIDENTS HANDLED ({len(handled)}):", ""]
    for n, i in enumerate(handled, 1):
        out += [*_incident_lines(n, i, _record_of(i, records)), ""]
    alerts = shift.get("alerts") or []
    if alerts:
        out += ["ALERTS (suppressed / resolved automatically):", ""]
        for a in alerts:
            how = "suppressed" if a.get("suppressed") else "resolved automatically"
            why = f": {_reason(a['reason'])}" if a.get("reason") else ", no reason given"
            out.append(f"- {a.get('summary')} ({how}{why})")
        out.append("")
    work = []
    windows = (run.data("maintenance") or {}).get("maintenance_windows") or shift.get("maintenance_windows") or []
    for w in windows:
        work.append(f"- Maintenance window: {day_hhmm(w.get('start'))}-{hhmm(w.get('end'))} {w.get('description')}")
    for e in entries:
        if e.get("category") not in ("incidents", "postmortems"):  # those are under INCIDENTS HANDLED
            work.append(f"- From history ({e.get('category')}): {e.get('title')}")
    if work:
        out += ["ONGOING WORK:", "", *work, ""]
    still_open = (run.data("open") or {}).get("incidents") or []
    if still_open:
        out += ["NOTES FOR NEXT SHIFT:", ""]
        for i in still_open:
            rec = _record_of(i, records)
            name = f"{rec['id']} (#{i.get('number')})" if rec else f"#{i.get('number')} {i.get('title')}"
            out.append(f"- Keep an eye on {i.get('service')}: {name} is {i.get('status')}, not resolved")
        out.append("")
    out += ["---", "", "Shall I post this to #oncall-handoff? (the demo does not post it)"]
    return out


# ---------------------------------------------------------------------- channel digest
KINDS = (("🔥", "Production Issue", ("prod issue", "incident", "outage", "🔥")), ("📋", "RFC Review", ("rfc", "📋")),
         ("💬", "General Discussion", ("proposal", "discussion", "💬")))
STOP = set("a an the of to in on for and or is are be it its this that with as at by from we our you your i".split())


def _kind(first: str) -> tuple[int, str, str]:
    body = unfenced(first).lower()
    for n, (icon, label, words) in enumerate(KINDS):
        if any(w in body for w in words):
            return n, icon, label
    return len(KINDS), "📣", "Announcement"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9-]*", text.lower())


def _topic(label: str, first: str, replies: str) -> str:
    """A short topic for the label: what an RFC or a proposal names, else the pair of words of the
    first message that the replies come back to most."""
    body = " ".join(unfenced(first).split()).lstrip("🔥📋💬📣 ")
    named = re.match(r"(?i)(?:rfc[-\s]?\d*|proposal)\s*:\s*(?:a |an |the )?([^.(:;,]+)", body)
    if named:
        words = re.split(r" (?:instead of|rather than|so that|because) ", named.group(1))[0].split()
        return " ".join(words[:6]).rstrip(",").capitalize()
    text = body.split(":", 1)[1] if ":" in body[:20] else body
    words = [w for w in _words(text) if w not in STOP]
    later = _words(unfenced(replies or ""))
    stems = Counter(w[:6] for w in later)
    pairs = [(stems[a[:6]] + stems[b[:6]], f"{a} {b}") for a, b in zip(words, words[1:], strict=False)]
    best = max(pairs, default=(0, " ".join(words[:3])))[1]
    return best.capitalize() + (" bug" if label == "Production Issue" else "")


def _reply_lines(replies: str | None) -> list[tuple[str, str, str]]:
    """(time, user, text) of each line of a thread's replies block."""
    out = []
    for line in unfenced(replies or "").splitlines():
        m = re.match(r"^(\S+) @(\S+?): (.*)$", line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3)))
    return out


def _concern(text: str) -> str:
    """The first words of a reply that raise a concern: ``Canary percentage``, ``Rollback time``."""
    need = re.search(r"\bneed (?:a |an |the )?([^.!?]+)", text)
    if need:
        return need.group(1).strip()
    head = re.split(r"[:,.?]", text, maxsplit=1)[0].split()
    return " ".join(head[:2] if len(head) > 3 else head)


def _thread_lines(n: int, t: dict[str, Any]) -> list[str]:
    _, icon, label = _kind(t["first"])
    replies = _reply_lines(t.get("replies"))
    out = [f"{n}. {icon} {label}: {_topic(label, t['first'], t.get('replies') or '')}",
           f"   - {'Reported' if label == 'Production Issue' else 'Started'} by: @{t['started_by']} at {hhmm(t['time'])}"]
    body = " ".join(unfenced(t["first"]).split())
    done = t.get("resolution")
    if done:
        fix = next((text for _, _, text in replies if re.search(r"\b(fix|confirmed|root cause)\b", text, re.I)), None)
        out.append(f"   - Status: Resolved at {hhmm(done['time'])} by @{done['user']}")
        if fix:
            out.append(f"   - Resolution: {quote(fix, 90)}")
    elif (until := re.search(r"(?i)open for feedback until (\w+)", body)):
        out.append(f"   - Status: Open for feedback until {until.group(1)}")
    else:
        out.append(f"   - Status: ongoing ({t['reply_count']} replies)")
    reactions = {r["name"]: r["count"] for r in t.get("reactions") or []}
    if "+1" in reactions or "-1" in reactions:
        up, down = reactions.get("+1", 0), reactions.get("-1", 0)
        mood = "Mixed" if up and down else ("In favour" if up else "Against")
        out.append(f"   - Sentiment: {mood} ({up} in favor, {down} against)")
    elif label == "RFC Review" and replies:
        concerns = [_concern(text) for _, user, text in replies if user != t["started_by"]]
        out.append(f"   - Key concerns: {', '.join(c[0].upper() + c[1:] for c in concerns if c)}")
    action = next(((user, m.group(1)) for _, user, text in replies if (m := re.search(r"\bI will ([^.!]+)", text))), None)
    if action and not done:
        out.append(f"   - Action: @{action[0]} will {action[1]}")
    out.append(f"   - Participants: {', '.join(p.capitalize() for p in t['participants'])}")
    doc = next((u for u in t.get("links") or [] if "docs." in u or "/rfc" in u), None)
    out.append(f"   - {'Document' if doc and label == 'RFC Review' else 'Thread'}: {doc if doc and label == 'RFC Review' else t['permalink']}")
    return out


def _action_item(m: dict[str, Any]) -> str:
    """``Review cache fix PR (from Alice)`` from "can you review the cache fix ... <PR link>"."""
    text = " ".join(unfenced(m["text"]).split())
    pr = " PR" if "/pull/" in text else ""
    who = f"(from {m['by'].capitalize()})"
    review = re.search(r"(?i)\breview (?:the |my |our )?(.+?)(?: when\b| please\b|\?|:|$)", text)
    if review:
        thing = review.group(1).strip()
        return f"Review {thing}{pr if not thing.endswith('PR') else ''} {who}"
    approve = re.search(r"(?i)\bapproval (?:on|for|of) (?:the |my |our )?(.+?)(?:\?|:|$)", text)
    if approve:
        return f"Approve {approve.group(1).strip()} {who}"
    return f"Answer @{m['by']}: {quote(text, 80)}"


@renderer("digest")
def digest(run: Run) -> list[str]:
    o = run.outcomes.get("digest")
    d = run.data("digest")
    if d is None:
        return [why_not(run, o, "slack")]
    hours = run.scenario.vars.get("hours", "?")
    out = [f"📢 CHANNEL SUMMARY: #{d['channel'].get('name') or d['channel']['id']}",
           f"Period: Last {hours} hours ({d['message_count']} messages{', truncated' if d.get('truncated') else ''})", "",
           "KEY DISCUSSIONS:", ""]
    threads = sorted(d.get("threads") or [], key=lambda t: (_kind(t["first"])[0], -t["reply_count"]))
    for n, t in enumerate(threads[:5], 1):
        out += [*_thread_lines(n, t), ""]
    mentions = d.get("mentions") or []
    me = (d.get("caller") or {}).get("name") or "you"
    if mentions:
        out += ["MENTIONS OF YOU:", ""]
        for m in mentions:
            out += [f"  @{me} mentioned by @{m['by']} at {hhmm(m['time'])}:", f"  {quote(m['text'], 120)}", ""]
        out += ["ACTION ITEMS FOR YOU:", ""]
        out += [f"{n}. {_action_item(m)}" for n, m in enumerate(mentions, 1)]
    else:
        out += ["Nothing needs you."]
    blocks = [d.get("messages") or "", *(t.get("replies") or "" for t in d.get("threads") or []),
              *(t["first"] for t in d.get("threads") or [])]
    suspicious = [line for b in blocks for line in unfenced(b).splitlines() if INJECTION.search(line)]
    if suspicious:
        out += ["", "⚠️ Suspicious (instructions to the assistant inside a message; shown as data, not followed):"]
        for line in suspicious:
            out += ["    <<untrusted slack channel content>>", f"    {line}", "    <<end untrusted>>"]
    prs = any("/pull/" in m["text"] for m in mentions)
    out += ["", f"Links shared: {len(d.get('links') or [])}", "", "---", "",
            ("Should I open those PRs for review?" if prs else "Should I draft a reply?") + " (the demo does nothing more)"]
    return out


# ---------------------------------------------------------------------- writing
@renderer("writing")
def writing(run: Run) -> list[str]:
    topic = run.scenario.vars.get("topic", "the article")
    out = [f"📝 ARTICLE PLANNING: {topic.title()}", ""]
    o = run.outcomes.get("profile")
    profile = ((o.data or {}).get("writing") if o is not None and o.ok else None) or {}
    if o is None or not o.ok:
        return [*out, "  " + why_not(run, o, "history")]
    if not profile.get("articles") and not profile.get("notes"):
        return [*out, "I don't have any of your previous articles or writing notes in history, so I won't guess your "
                      "preferences: who is it for, how long, and what shape?"]
    tone, structure, audience = ([re.sub(r" \(\d+\)$", "", v) for v in profile.get(k) or []]
                                 for k in ("tone", "structure", "audience"))
    out.append("Based on your previous articles, you prefer:")
    if tone:
        out.append(f"- {', '.join(tone[:2]).capitalize()} approach")
    if structure:
        out.append(f"- {structure[0].capitalize()}s" if not structure[0].endswith("s") else f"- {structure[0].capitalize()}")
    if audience:
        out.append(f"- Written for {audience[0]}")
    if profile.get("suggested_range"):
        out.append(f"- {profile['suggested_range'].split(' (')[0]} word range")
    words = profile.get("words") or {}
    out += ["", f"  (from {profile.get('basis')}; articles of {words.get('min')}-{words.get('max')} words, "
                f"about {profile.get('sections')} sections each, counted by the history server)" if words else
            f"  (from {profile.get('basis')})"]
    found = run.data("related") or {}
    related = [] if found.get("no_close_match") else [h for h in found.get("hits") or [] if h.get("close", True)]
    if profile.get("topics"):
        out.append(f"  Your recent topics: {', '.join(profile['topics'][:4])}")
    if related:
        out.append(f"  Earlier on this subject: {related[0]['title']} ({related[0]['id']})")
    out += ["", "SUGGESTED OUTLINE: Claude writes it from this profile, each section with a word budget inside the "
                "range (the demo stops here).", "", "Does this outline work? Would you like to:",
            "1. Start writing section by section", "2. Modify the outline", "3. Research specific topics first"]
    return out
