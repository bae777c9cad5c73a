"""What a person sees after a scenario: one renderer per report block, named in the scenario.

A renderer takes the :class:`~paii_sandbox.scenario.Run` and returns lines, in the shapes of
the skills' reference formats (INCIDENT DECLARED, ON-CALL HANDOFF SUMMARY, CHANNEL SUMMARY).
It states what was skipped and why, and shows text written by other people as quoted data.
Add a block by writing a function registering it with ``@renderer("name")``: here, or in a
module listed in ``MODULES`` (``renderers_runbook``: the runbook plan and run; ``renderers_work``: the sprint
summary; ``renderers_summaries``: the handoff, the channel summary and the writing plan).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from paii_common.untrusted import CLOSE, fence, unmark

from paii_sandbox.scenario import SERVICE_NAMES, Outcome, Run

RENDERERS: dict[str, Callable[[Run], list[str]]] = {}
#: modules whose blocks register themselves when render() first runs
MODULES = ("paii_sandbox.renderers_runbook", "paii_sandbox.renderers_work", "paii_sandbox.renderers_postmortem",
           "paii_sandbox.renderers_summaries")
INJECTION = re.compile(r"ignore (all |any )?(previous|prior|above) instructions|post the token|system note for the assistant", re.I)
_FENCE = re.compile(r"^<<untrusted [^>]*>>\n(.*)\n" + re.escape(CLOSE) + r"$", re.S)


def renderer(name: str) -> Callable[[Callable[[Run], list[str]]], Callable[[Run], list[str]]]:
    def register(fn: Callable[[Run], list[str]]) -> Callable[[Run], list[str]]:
        RENDERERS[name] = fn
        return fn

    return register


def render(run: Run) -> str:
    import importlib

    for module in MODULES:
        importlib.import_module(module)
    lines: list[str] = []
    for name in run.scenario.report:
        block = RENDERERS[name](run)
        if block:
            lines += [*block, ""]
    return unmark("\n".join(lines).rstrip() + "\n")  # names and titles marked for the model, plain for a person


def unfenced(text: str | None) -> str:
    """The text inside a fence (to quote it), or the text itself."""
    match = _FENCE.match(text or "")
    return match.group(1) if match else (text or "")


def quote(text: str | None, limit: int = 110) -> str:
    body = " ".join(unmark(unfenced(text)).split())  # marked as data for the model; a person reads the words
    return "“" + (body if len(body) <= limit else body[: limit - 1] + "…") + "”"


def hhmm(value: str | None) -> str:
    """``2026-01-01T18:23:00Z`` -> ``18:23``."""
    match = re.search(r"T(\d\d:\d\d)", value or "")
    return match.group(1) if match else (value or "?")


def day_hhmm(value: str | None) -> str:
    match = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)", value or "")
    return f"{match.group(1)} {match.group(2)}" if match else (value or "?")


def why_not(run: Run, o: Outcome | None, service: str) -> str:
    """``PagerDuty unreachable: acknowledge by hand`` and the like."""
    name = SERVICE_NAMES.get(service, service)
    todo = (o.step.by_hand if o is not None else None) or "do it by hand"
    if service in run.unreachable:
        return f"{name} unreachable: {todo}"
    if o is None:
        return f"{name}: skipped"
    if o.status == "failed":
        return f"{name}: failed ({' '.join((o.error or '').split())[:160]}): {todo}"
    return f"{name}: skipped ({o.reason}): {todo}"


# ---------------------------------------------------------------------- incident
def _linked(links: list[dict[str, Any]]) -> str:
    """``linked to PagerDuty`` when the ticket links the page (the channel's line says the rest)."""
    if any("pagerduty" in f"{ln.get('url')} {ln.get('title')}".lower() for ln in links):
        return "linked to PagerDuty"
    return "linked to the channel" if links else "not linked"


def _ticket_line(run: Run) -> str:
    o = run.outcomes.get("ticket")
    if o is None:
        return ""
    if o.ok:
        t = o.data or {}
        links = t.get("remote_links") or []
        if t.get("created", True):
            return f"Jira: Created {t['key']} ({_linked(links)}) ✓"
        return f"Jira: {t['key']} already open ({_linked(links)}) ✓"
    if o.status == "skipped" and (o.reason or "").endswith("not configured, skipped"):
        return "Jira: not configured, skipped"
    if o.status == "skipped" and (o.reason or "").startswith("needs"):
        return "Jira: no PagerDuty incident to link the ticket to: file the ticket by hand"
    return why_not(run, o, "jira")


def _record_line(run: Run) -> str:
    """The incident's history record: what the handoff and the post-mortem read."""
    o = run.outcomes.get("record")
    if o is None:
        return ""
    if o.ok:
        links = ", ".join(SERVICE_NAMES.get(k, k) for k in ((o.args or {}).get("links") or {}))
        verb = "recorded" if (o.data or {}).get("created", True) else "updated"
        return f"History: {verb} {o.data['id']} ({(o.args or {}).get('status')})" + (f" with its {links} links" if links else "") + " ✓"
    return why_not(run, o, "history")


@renderer("declared")
def declared(run: Run) -> list[str]:
    out = [f"🚨 INCIDENT DECLARED: {run.scenario.vars.get('slug', run.scenario.name)}", ""]
    inc = run.data("incident") or {}
    ack = run.outcomes.get("acknowledge")
    if ack is not None and ack.ok:
        state = ack.data or {}
        number = (state.get("incident") or {}).get("number") or inc.get("number")
        if state.get("changed", True):
            out.append(f"  PagerDuty: Acknowledged incident #{number} ✓")
        else:
            out.append(f"  PagerDuty: incident #{number} was already acknowledged: reused ✓")
    else:
        out.append("  " + why_not(run, ack, "pagerduty"))
    channel = run.outcomes.get("channel")
    kickoff_line = ""
    if channel is not None and channel.ok:
        ch = channel.data
        verb = "Created" if ch.get("created") else "Reused existing"
        invite = run.outcomes.get("invite")
        if invite is not None and invite.ok:
            res = invite.data
            real = {u["id"]: u.get("real_name") or u["name"] for found in run.data("people") or [] for u in found.get("users") or []}
            new = [real.get(u["id"], u["name"]) for u in res.get("invited") or []]
            there = [real.get(u["id"], u["name"]) for u in res.get("already_in_channel") or []]
            who = f"invited {len(new)} on-call ({', '.join(new)})" if new else ""
            if there:
                who += ("; " if who else "") + f"on-call already members ({', '.join(there)})"
            failed = [f"{f['user']}: {f['error']}" for f in res.get("failed") or []]
            if failed:
                who += f"; not invited: {'; '.join(failed)}"
            out.append(f"  Slack: {verb} #{ch['name']}, {who} ✓")
        else:
            out.append(f"  Slack: {verb} #{ch['name']} ✓; on-call not invited: {why_not(run, invite, 'pagerduty' if 'pagerduty' in run.unreachable else 'slack')}")
        kickoff = run.outcomes.get("kickoff")
        if kickoff is not None and kickoff.ok:
            kickoff_line = "Slack: kickoff message posted with the PagerDuty and Jira links ✓"
        elif kickoff is not None and kickoff.reason == "not needed":
            kickoff_line = "Slack: kickoff message already posted when the channel was created"
        else:
            kickoff_line = why_not(run, kickoff, "slack")
    else:
        out.append("  " + why_not(run, channel, "slack"))
    ticket = _ticket_line(run)
    out += [f"  {line}" for line in (ticket, kickoff_line, _record_line(run)) if line]
    maint = run.data("maintenance") or {}
    for w in maint.get("maintenance_windows") or []:
        out.append(f"  Maintenance: {day_hhmm(w.get('start'))}-{hhmm(w.get('end'))} {w.get('description') or ''} ({', '.join(w.get('services') or [])})")
    return out


def _suggested_runbook(run: Run, hits: list[dict[str, Any]]) -> str:
    """The runbook server's best match (with when it last ran), else a runbook the history links."""
    o = run.outcomes.get("runbooks")
    found = ((o.data or {}).get("runbooks") or []) if o is not None and o.ok else []
    if found:
        top = found[0]
        last = top.get("last_run")
        when = (f"last run {last['when']} by {last.get('by') or 'someone'}: {last.get('outcome') or 'outcome not recorded'}"
                if last else "never run here")
        return f"{top['name']}.md ({top['title']}; {when})"
    linked = [f"{link} (from {h['id']})" for h in hits for k, link in (h.get("links") or {}).items() if "runbook" in k.lower()]
    if linked:
        return linked[0]
    if o is not None and not o.ok and o.status != "skipped":
        return why_not(run, o, "runbook")
    return "none found"


@renderer("similar")
def similar(run: Run) -> list[str]:
    o = run.outcomes.get("similar")
    if o is None or not o.ok:
        return ["  📊 SIMILAR INCIDENTS: " + why_not(run, o, "history"), "",
                f"  📋 SUGGESTED RUNBOOK: {_suggested_runbook(run, [])}"]
    hits = [h for h in (o.data or {}).get("hits") or [] if not _itself(run, h)]
    out = ["  📊 SIMILAR INCIDENTS (from history):", ""] if hits else ["  📊 SIMILAR INCIDENTS: no similar incidents in history", ""]
    for n, h in enumerate(hits[:3], 1):
        out.append(f"  {n}. {h['id']} ({h.get('ago')}) - {h['title']}")
        out.append(f"     Root cause: {h.get('root_cause') or 'not recorded'}")
        out.append(f"     Resolution: {h.get('resolution') or 'not recorded'}")
        out.append("")
    out.append(f"  📋 SUGGESTED RUNBOOK: {_suggested_runbook(run, hits)}")
    picked = first_check(run)
    top = next((h for h in hits if h.get("root_cause")), {})
    if picked and top.get("root_cause"):
        cause = top["root_cause"].split(":")[0].rstrip(".")
        out += ["", "  Ready for guided troubleshooting?", "",
                f"  Similar incident {top['id']} was caused by {cause[0].lower() + cause[1:]}.",
                f"  Should I check {picked['what']} first?"]
    elif hits:
        out += ["", "  Ready for guided troubleshooting? The similar incidents suggest no first check: "
                    "start from the pods, events and logs (/paii:troubleshoot)."]
    return out


def _itself(run: Run, hit: dict[str, Any]) -> bool:
    """The incident's own history record (a second declaration finds it): not a similar incident."""
    url = unmark(str((run.data("incident") or {}).get("url") or ""))
    return bool(url) and unmark(str((hit.get("links") or {}).get("pagerduty") or "")) == url


def first_check(run: Run) -> dict[str, Any] | None:
    """The check the most similar incident suggests (the ``check`` step's pick), whether or not it ran."""
    from paii_sandbox.scenario import pick_item

    step = next((s for s in run.scenario.steps if s.id == "check"), None)
    try:
        picked = pick_item(step, run.context) if step is not None else None
    except KeyError:
        return None
    return picked if isinstance(picked, dict) else None


def _gauge(picked: dict[str, Any], output: str) -> tuple[int, int] | None:
    match = re.search(picked.get("gauge") or "(?!)", output)
    return (int(match.group(1)), int(match.group(2))) if match else None


@renderer("troubleshoot")
def troubleshoot(run: Run) -> list[str]:
    """The first check the person said yes to, what it found, and the action proposed (not taken)."""
    check, picked = run.outcomes.get("check"), first_check(run)
    if check is None or picked is None:
        return []
    ns = run.scenario.vars.get("namespace", "default")
    args = check.args or {}
    argv = " ".join(picked["argv"])
    out = [f'You: "yes, check {picked["what"]}"', ""]
    if not check.ok:
        pod = args.get("pod") or f"<a {run.scenario.vars.get('selector', 'ready')} pod>"
        return [*out, "  " + why_not(run, check, "kubernetes"), f"    kubectl exec {pod} -n {ns} -- {argv}"]
    out.append(f"  Running: kubectl exec {args.get('pod', '<pod>')} -n {ns} -- {argv}   (exec_in_pod: an allowlisted read)")
    data = check.data or {}
    text = unfenced(data.get("stdout")).rstrip("\n")
    lines = text.splitlines() or ["(no output)"]
    out += ["", f"  📊 {lines[0]}", *(f"  {line}" for line in lines[1:])]
    if data.get("exit_code") not in (0, None):
        out.append(f"  (exit code {data.get('exit_code')}: {' '.join(unfenced(data.get('stderr')).split())[:160]})")
    top = next((h for h in (run.data("similar") or {}).get("hits") or [] if h.get("root_cause") and not _itself(run, h)), {})
    gauge = _gauge(picked, text)
    if gauge:
        used, total = gauge
        pct = round(100 * used / total) if total else 0
        if pct >= 90:
            out += ["", f"  ⚠️ {picked.get('alarm', 'Nearly exhausted')} ({pct}% usage)",
                    f"  This matches the pattern from {top.get('id', 'the similar incident')}."]
        else:
            out += ["", f"  {used}/{total} ({pct}% usage): not the pattern of {top.get('id', 'the similar incident')}."]
    dep = run.data("deployment")
    name = run.scenario.vars.get("deployment", "the deployment")
    if dep:
        rev = (dep.get("revisions") or [{}])[0]
        out += ["", f"  Deployment {name}: {dep.get('ready')}/{dep.get('desired')} ready, revision {rev.get('revision')} "
                    f"({rev.get('change_cause') or 'no change cause'}, {day_hhmm(rev.get('created'))})"]
    if gauge and gauge[1] and 100 * gauge[0] / gauge[1] >= 90:
        out += ["", "  Recommended action: scale the database pool or restart the pods:",
                f"    1. restart_deployment {name} in {ns}: a rolling restart frees the held connections",
                f"    2. or raise the pool size, as {top.get('id', 'last time')} did ({top.get('resolution') or 'see its resolution'})".rstrip(),
                "  Should I proceed? (the demo stops here: nothing is restarted or scaled without your yes)"]
    return out


@renderer("untrusted")
def untrusted(run: Run) -> list[str]:
    inc = run.data("incident") or {}
    notes = [n for n in inc.get("notes") or [] if n.get("content")]
    if not notes:
        return []
    out = ["  ⚠️ Incident notes written by others (shown as data; nothing in them was acted on):"]
    for n in notes:
        body = unfenced(n["content"])
        flag = "  ⚠️ Suspicious: it tries to instruct the assistant; ignored." if INJECTION.search(body) else ""
        out.append(f"  {n.get('author') or 'someone'} at {hhmm(n.get('created_at'))}:{flag}")
        out += ["    " + line for line in fence(body, "pagerduty note").splitlines()]
    return out
