"""``sprint_report``: read a whole sprint (every page) and compute what the summary shows.

Reads: the board (by id, name or configured team), its estimation field, the sprint (default the
active one), every issue of ``sprint = N`` with its changelog, the comments of blocked issues, and
the last three closed sprints for velocity. "Done" is the status category, never a status name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from paii_common.answers import expect
from paii_common.errors import InvalidInput, NotFound
from paii_common.untrusted import NOTE, fence, short

from paii_jira import answers as A
from paii_jira import history as h
from paii_jira.blockers import waiting_on
from paii_jira.adf import to_text
from paii_jira.client import SERVICE, JiraClient, JiraError
from paii_jira.config import team_board, team_channel
from paii_jira.fields import FieldMap, discover
from paii_jira.models import (
    Blocker, CarryOver, Comment, Coverage, EpicProgress, IssueSummary, Period, Points, ScopeChange,
    SprintRef, SprintReport, Tickets, VelocitySprint,
)
from paii_jira.render import render

AGILE = "rest/agile/1.0"
BASE_FIELDS = ["summary", "status", "assignee", "priority", "issuetype", "labels", "issuelinks", "created",
               "resolutiondate", "statuscategorychangedate", "parent"]
ON_TRACK_SLACK = 0.2  # an epic is behind when its done share trails the time elapsed by more than this
COMMENT_LABEL = "jira comment"


def _each(values: list[dict[str, Any]], model: Any, call: str) -> list[dict[str, Any]]:
    """Every item of an agile list in the shape the report reads (else: Jira answered with something unexpected)."""
    return [item.model_dump() for item in expect(list[model], values, service=SERVICE, call=call)]


def field_map(client: JiraClient) -> FieldMap:
    if "fieldmap" not in client.cache:
        client.cache["fieldmap"] = discover(client.fields(), client.settings)
    return client.cache["fieldmap"]


def resolve_board(client: JiraClient, ref: str | None) -> tuple[dict[str, Any], str]:
    """(board, display name): a board id, a board name, or a team name from PAII_JIRA_TEAMS."""
    settings = client.settings
    ref = (ref or settings.board or "").strip()
    if not ref:
        raise InvalidInput("Say which board: a board id, a board name or a team name.",
                           hint="Set PAII_JIRA_BOARD for a default, or PAII_JIRA_TEAMS='Team Infra=84' for team names.")
    team = team_board(settings.teams.get(ref.lower()) or "")
    target = team or ref
    if target.isdigit():
        try:
            board = client.get(f"{AGILE}/board/{target}", expect=A.Board).model_dump()
        except JiraError as exc:
            if exc.status == 404:
                raise NotFound(f"No board {target} (or no access to it).", hint=_boards_hint(client)) from None
            raise
        return board, ref if team else str(board.get("name") or target)
    values, _ = client.agile_values(f"{AGILE}/board", {"name": target}, max_pages=5)
    values = _each(values, A.Board, f"GET {AGILE}/board")
    exact = [b for b in values if str(b.get("name") or "").lower() == target.lower()]
    found = exact or (values if len(values) == 1 else [])
    if not found:
        hint = _boards_hint(client, values)
        raise NotFound(f"No board is named {target!r}.", hint=hint)
    return found[0], ref if team else str(found[0].get("name") or target)


def _boards_hint(client: JiraClient, values: list[dict[str, Any]] | None = None) -> str:
    if not values:
        try:
            values, _ = client.agile_values(f"{AGILE}/board", max_pages=1)
        except Exception:
            values = []
    names = ", ".join(f"{b.get('name')} ({b.get('id')})" for b in values[:15]) or "none visible"
    teams = ", ".join(f"{k}={v}" for k, v in client.settings.teams.items()) or "none configured"
    return f"Boards: {names}. Teams (PAII_JIRA_TEAMS): {teams}."


def pick_sprint(client: JiraClient, board: dict[str, Any], ref: str | None) -> dict[str, Any]:
    board_id = board.get("id")
    if ref and ref.strip().isdigit():
        try:
            return client.get(f"{AGILE}/sprint/{ref.strip()}", expect=A.Sprint).model_dump()
        except JiraError as exc:
            if exc.status == 404:
                raise NotFound(f"No sprint {ref}.", hint="Omit sprint for the active one, or give its name.") from None
            raise
    params = {} if ref else {"state": "active"}
    values, _ = client.agile_values(f"{AGILE}/board/{board_id}/sprint", params)
    values = _each(values, A.Sprint, f"GET {AGILE}/board/{{id}}/sprint")
    if ref:
        hits = [s for s in values if str(s.get("name") or "").lower() == ref.strip().lower()]
        if not hits:
            names = ", ".join(str(s.get("name")) for s in values[-10:]) or "none"
            raise NotFound(f"Board {board_id} has no sprint named {ref!r}.", hint=f"Its sprints include: {names}.")
        return hits[-1]
    active = [s for s in values if str(s.get("state") or "active").lower() == "active"] or values
    if not active:
        raise NotFound(f"Board {board.get('name') or board_id} has no active sprint.",
                       hint="Pass sprint= with a closed sprint's name or id (a kanban board has no sprints).")
    return max(active, key=lambda s: str(s.get("startDate") or ""))


def _period(sprint: dict[str, Any], now: datetime) -> Period:
    start, end = h.parse_time(sprint.get("startDate")), h.parse_time(sprint.get("endDate"))
    if not start or not end or end <= start:
        return Period(start=h.iso(start), end=h.iso(end))
    total = (end - start).total_seconds()
    elapsed = min(max((now - start).total_seconds(), 0.0), total)
    # the days left are the calendar days from today to the last day the sprint reaches into, both
    # counted; the working days are the weekdays among them (so never more than the days left)
    last = (end - timedelta(microseconds=1)).date()
    days = [now.date() + timedelta(days=n) for n in range((last - now.date()).days + 1)] if end > now else []
    return Period(start=h.iso(start), end=h.iso(end), days_total=round(total / 86400),
                  days_elapsed=int(elapsed // 86400), days_left=len(days),
                  working_days_left=sum(1 for d in days if d.weekday() < 5), elapsed_percent=int(elapsed * 100 // total))


def _summary(client: JiraClient, issue: dict[str, Any]) -> IssueSummary:
    f = issue.get("fields") or {}
    return IssueSummary(
        key=issue["key"], summary=str(f.get("summary") or ""), status=str((f.get("status") or {}).get("name") or "?"),
        status_category=h.CATEGORY_NAMES[h.category(issue)], type=(f.get("issuetype") or {}).get("name"),
        assignee=h.name_of(f.get("assignee")), priority=(f.get("priority") or {}).get("name"),
        updated=str(f["updated"]) if f.get("updated") is not None else None, url=client.browse_url(issue["key"]),
    )


def _epic_of(issue: dict[str, Any], fm: FieldMap) -> tuple[str | None, str | None]:
    f = issue.get("fields") or {}
    parent = f.get("parent") or {}
    ptype = ((parent.get("fields") or {}).get("issuetype") or {})
    if parent.get("key") and (ptype.get("name") == "Epic" or ptype.get("hierarchyLevel") == 1):
        return parent["key"], (parent.get("fields") or {}).get("summary")
    link = f.get(fm.epic_link) if fm.epic_link else None
    if isinstance(link, str) and link:
        return link, None
    return None, None


def _pct(done: float, total: float) -> int:
    return int(done * 100 // total) if total else 0


def build_report(client: JiraClient, board_ref: str | None, sprint_ref: str | None, *, velocity: bool = True) -> SprintReport:
    now = client.now()
    board, display = resolve_board(client, board_ref)
    board_id = int(board.get("id") or 0)
    fm = field_map(client)
    try:  # the board's own estimation field wins for its report
        est = ((client.get(f"{AGILE}/board/{board_id}/configuration") or {}).get("estimation") or {})
        if est.get("type") == "field" and str((est.get("field") or {}).get("fieldId") or "").startswith("customfield_") \
                and not client.settings.story_points_field:
            fm = fm.with_points(est["field"]["fieldId"], (est.get("field") or {}).get("displayName"))
    except JiraError:
        pass
    sprint = pick_sprint(client, board, sprint_ref)
    sid = int(sprint.get("id") or 0)
    start = h.parse_time(sprint.get("startDate"))
    jql = f"sprint = {sid} ORDER BY key ASC"
    fields = list(dict.fromkeys(BASE_FIELDS + fm.extra()))
    raw, pages, complete = client.search_all(jql, fields, expand="changelog")

    changelogs_fetched = 0
    histories: dict[str, list[dict[str, Any]]] = {}
    issues, subtasks = [], 0
    for issue in raw:
        if ((issue.get("fields") or {}).get("issuetype") or {}).get("subtask"):
            subtasks += 1
            continue
        log = issue.get("changelog") or {}
        hist = list(log.get("histories") or [])
        if int(log.get("total") or len(hist)) > len(hist):
            hist = client.changelog(issue["key"])
            changelogs_fetched += 1
        histories[issue["key"]] = hist
        issues.append(issue)

    epic_names: dict[str, str] = {}
    pts = {i["key"]: h.points_of(i, fm.story_points) for i in issues}
    cat = {i["key"]: h.category(i) for i in issues}
    closed_at = h.parse_time(sprint.get("completeDate")) if str(sprint.get("state")) == "closed" else None
    if closed_at:  # a closed sprint: work finished after it closed was open when it ended
        for i in issues:
            f = i.get("fields") or {}
            finished = h.parse_time(f.get("statuscategorychangedate") or f.get("resolutiondate"))
            if cat[i["key"]] == h.DONE and finished and finished > closed_at + timedelta(minutes=5):
                cat[i["key"]] = h.IN_PROGRESS
    total = sum(p or 0 for p in pts.values())
    by_cat = {c: sum(pts[k] or 0 for k in pts if cat[k] == c) for c in h.CATEGORY_NAMES}
    counts = {c: sum(1 for k in cat if cat[k] == c) for c in h.CATEGORY_NAMES}

    added, carried = [], []
    for i in issues:
        f = i.get("fields") or {}
        joined = h.added_to_sprint(i, histories[i["key"]], sid, fm.sprint)
        if start and joined and joined > start:
            added.append(ScopeChange(key=i["key"], summary=str(f.get("summary") or ""), points=pts[i["key"]],
                                     added=h.iso(joined), status_category=h.CATEGORY_NAMES[cat[i["key"]]]))
        before = [s for s in h.sprints_of(f.get(fm.sprint) if fm.sprint else None) if s["id"] != sid and s["state"] == "closed"]
        before += [s for s in h.sprints_of(f.get("closedSprints")) if s["id"] != sid and s not in before]
        if before:
            carried.append(CarryOver(key=i["key"], summary=str(f.get("summary") or ""), points=pts[i["key"]],
                                     from_sprint=before[-1]["name"], status_category=h.CATEGORY_NAMES[cat[i["key"]]]))
    added_points = sum(a.points or 0 for a in added)

    blocked = [i for i in issues if h.blocked_signals(i, fm.flagged)]
    blockers = [_blocker(client, i, histories[i["key"]], fm, pts[i["key"]], now) for i in blocked]
    who = waiting_on(client, blocked) if blocked else {}
    for b in blockers:
        b.waiting_on_who = who.get(b.key, [])

    period = _period(sprint, now)
    elapsed = (period.elapsed_percent or 0) / 100
    epics: dict[str | None, dict[str, Any]] = {}
    for i in issues:
        key, name = _epic_of(i, fm)
        if key and name:
            epic_names[key] = name
        e = epics.setdefault(key, {"done": 0.0, "total": 0.0, "n": 0, "done_n": 0, "blocked": []})
        p = pts[i["key"]] or 0
        e["total"] += p
        e["n"] += 1
        if cat[i["key"]] == h.DONE:
            e["done"] += p
            e["done_n"] += 1
    missing = [k for k in epics if k and k not in epic_names]
    if missing:
        found, _, _ = client.search_all(f"key in ({', '.join(missing)})", ["summary"], max_pages=1)
        epic_names.update({x["key"]: str((x.get("fields") or {}).get("summary") or x["key"]) for x in found})
    epic_key = {i["key"]: _epic_of(i, fm)[0] for i in issues}
    for b in blockers:
        ek = epic_key.get(b.key)
        b.epic = epic_names.get(ek, ek) if ek else None
        epics[ek]["blocked"].append(b.key)
    epic_rows = []
    for k, e in epics.items():
        share = e["done"] / e["total"] if e["total"] else (e["done_n"] / e["n"] if e["n"] else 0)
        status = ("complete" if e["done_n"] == e["n"] else "blocked" if e["blocked"]
                  else "on_track" if share >= elapsed - ON_TRACK_SLACK else "behind")
        epic_rows.append(EpicProgress(key=k, name=epic_names.get(k or "", k or "No epic"), done_points=e["done"],
                                      total_points=e["total"], percent=_pct(e["done"], e["total"]), issues=e["n"],
                                      done_issues=e["done_n"], status=status, blocked_issues=e["blocked"]))
    epic_rows.sort(key=lambda r: (r.key is None, r.key or ""))

    velocity_rows = _velocity(client, board_id, sid, fm) if velocity else []
    avg = round(sum(v.completed_points for v in velocity_rows) / len(velocity_rows), 1) if velocity_rows else None
    unestimated = [_summary(client, i) for i in issues if pts[i["key"]] is None]
    percent = _pct(by_cat[h.DONE], total)
    risks = _risks(blockers, epic_rows, unestimated, added, added_points, percent, period, by_cat, avg)
    health = "at_risk" if blockers or any(r.status == "behind" for r in epic_rows) or \
        (period.elapsed_percent is not None and percent < period.elapsed_percent - 20) else "on_track"
    note = (f"Read all {len(raw)} issues of the sprint in {pages} page(s)." if complete else
            f"STOPPED after {pages} pages ({len(raw)} issues): counts are partial; say so, never claim 'no blockers'.")
    report = SprintReport(
        board=display, board_id=board_id,
        sprint=SprintRef(id=sid, name=str(sprint.get("name") or sid), state=str(sprint.get("state") or "?"),
                         goal=sprint.get("goal") or None),
        period=period,
        assignees=len({a for a in (h.name_of((i.get("fields") or {}).get("assignee")) for i in issues) if a}),
        points=Points(field=f"{fm.story_points_name} ({fm.story_points})" if fm.story_points else None, total=total,
                      committed_at_start=total - added_points, added_after_start=added_points,
                      completed=by_cat[h.DONE], in_progress=by_cat[h.IN_PROGRESS], remaining=by_cat[h.TO_DO],
                      percent_complete=percent),
        tickets=Tickets(total=len(issues), done=counts[h.DONE], in_progress=counts[h.IN_PROGRESS], to_do=counts[h.TO_DO],
                        subtasks_excluded=subtasks),
        epics=epic_rows, blockers=blockers, unestimated=unestimated, added_after_start=added, carried_over=carried,
        velocity=velocity_rows, velocity_average=avg, health=health, risks=risks,
        coverage=Coverage(issues_read=len(raw), pages=pages, jql=jql, complete=complete,
                          changelogs_fetched=changelogs_fetched, note=note),
        note=NOTE, text="", status_channel=_status_channel(client, board_ref, board),
    )
    report.text = render(report)
    return report


def _status_channel(client: JiraClient, ref: str | None, board: dict[str, Any]) -> str | None:
    """The team's status channel (PAII_JIRA_TEAMS ``Team Infra=84#team-infra-status``): the team named,
    else the team whose board this is."""
    teams = client.settings.teams
    entry = teams.get((ref or client.settings.board or "").strip().lower())
    if entry is None:
        ids = {str(board.get("id") or ""), str(board.get("name") or "").lower()}
        entry = next((e for e in teams.values() if team_board(e).lower() in ids), None)
    return team_channel(entry) if entry else None


def _blocker(client: JiraClient, issue: dict[str, Any], hist: list[dict[str, Any]], fm: FieldMap,
             points: float | None, now: datetime) -> Blocker:
    f = issue.get("fields") or {}
    signals = h.blocked_signals(issue, fm.flagged)
    since = h.blocked_since(issue, hist, signals, fm.flagged)
    try:
        comments = client.get(f"{client.api}/issue/{issue['key']}/comment", {"orderBy": "-created", "maxResults": 20},
                              expect=A.Comments).comments
    except JiraError:
        comments = []
    comments.sort(key=lambda c: str(c.get("created") or ""))
    last = comments[-1] if comments else None
    why = h.escalation(hist, comments, since)
    waiting = [f"{o.get('key')}: {short((o.get('fields') or {}).get('summary'), 300)} "
               f"({((o.get('fields') or {}).get('status') or {}).get('name') or '?'})".strip()
               for o in h.blocking_links(issue)]
    epic_key, epic_name = _epic_of(issue, fm)
    return Blocker(
        key=issue["key"], summary=str(f.get("summary") or ""), status=str((f.get("status") or {}).get("name") or "?"),
        assignee=h.name_of(f.get("assignee")), epic=epic_name or epic_key, points=points, signals=signals,
        waiting_on=waiting, blocked_since=h.iso(since),
        days_blocked=int((now - since).total_seconds() // 86400) if since else None,
        escalated=why is not None, escalation=why,
        last_comment=Comment(author=h.name_of(last.get("author")) or "?", created=str(last.get("created") or ""),
                             body=fence(to_text(last.get("body"), 600), COMMENT_LABEL)) if last else None,
    )


def _velocity(client: JiraClient, board_id: int, current: int, fm: FieldMap) -> list[VelocitySprint]:
    try:
        closed, _ = client.agile_values(f"{AGILE}/board/{board_id}/sprint", {"state": "closed"})
    except JiraError:
        return []
    closed = _each(closed, A.Sprint, f"GET {AGILE}/board/{{id}}/sprint")
    closed = [s for s in closed if int(s.get("id") or 0) != current and str(s.get("state") or "closed") == "closed"]
    closed.sort(key=lambda s: str(s.get("completeDate") or s.get("endDate") or ""), reverse=True)
    rows = []
    for s in closed[:3]:
        end = h.parse_time(s.get("completeDate") or s.get("endDate"))
        fields = ["issuetype", "statuscategorychangedate", "resolutiondate"] + ([fm.story_points] if fm.story_points else [])
        done, _, _ = client.search_all(f"sprint = {int(s['id'])} AND statusCategory = Done ORDER BY key ASC", fields, max_pages=10)
        total, n = 0.0, 0
        for i in done:
            f = i.get("fields") or {}
            if (f.get("issuetype") or {}).get("subtask"):
                continue
            finished = h.parse_time(f.get("statuscategorychangedate") or f.get("resolutiondate"))
            if end and finished and finished > end + timedelta(minutes=5):
                continue  # finished after this sprint closed: it counts for a later one
            total += h.points_of(i, fm.story_points) or 0
            n += 1
        rows.append(VelocitySprint(id=int(s["id"]), name=str(s.get("name") or s["id"]), completed_points=total,
                                   completed_issues=n, end=h.iso(end)))
    return rows


def _risks(blockers: list[Blocker], epics: list[EpicProgress], unestimated: list[IssueSummary], added: list[ScopeChange],
           added_points: float, percent: int, period: Period, by_cat: dict[str, float], avg: float | None) -> list[str]:
    out = []
    for b in blockers:
        days = f"{b.days_blocked} days" if b.days_blocked is not None else "since before the changelog"
        who = f", waiting on {'; '.join(b.waiting_on_who)}" if b.waiting_on_who else ""
        out.append(f"{b.key} blocked {days}{who}, escalated: {'yes' if b.escalated else 'no'}"
                   + (f"; epic {short(b.epic, 300)}" if b.epic else ""))
    for e in epics:
        if e.status == "behind":
            out.append(f"{short(e.name, 300)} at {e.percent}% with {period.elapsed_percent}% of the sprint gone")
    if unestimated:
        out.append(f"{len(unestimated)} issue(s) without story points: {', '.join(u.key for u in unestimated[:10])}")
    if added:
        out.append(f"{len(added)} issue(s), {added_points:g} points, added after the sprint started")
    open_points = by_cat[h.IN_PROGRESS] + by_cat[h.TO_DO]
    if period.elapsed_percent is not None and percent < period.elapsed_percent - 20:
        out.append(f"{percent}% of points done with {period.elapsed_percent}% of the time gone")
    if avg and period.days_total and period.days_left is not None:
        pace = avg * period.days_left / period.days_total
        if open_points > pace:
            out.append(f"{open_points:g} points open with {period.days_left} days left; recent pace covers about {pace:.0f}")
    return out
