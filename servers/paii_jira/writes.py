"""Jira writes whose answer may be lost or unexpected: read the issue back and report the truth.

The client never re-sends a POST; a 5xx, a dropped connection, a timeout or an answer of the wrong
shape raises :class:`~paii_common.errors.OutcomeUnknown` (:class:`~paii_common.answers.UnexpectedWrite`).
Here the tools read back what the write should have changed:

* it is there: the tool succeeds and says Jira did not confirm it;
* it is not, and Jira answered (a 5xx, an unexpected body): it was not made, retrying is safe;
* it is not, and no answer came: it may still arrive; check before retrying;
* the read back fails too: the outcome is unknown, and the error says how to check.

A comment is added once: before posting, the issue's recent comments by the same account are
searched for the same text (the last :data:`COMMENT_LOOKBACK`, written in the last
:data:`COMMENT_WINDOW`), so a retry after an unknown outcome does not post it twice.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from paii_common.answers import UnexpectedWrite, read_back
from paii_common.errors import InvalidInput, OutcomeUnknown, UpstreamError

from paii_jira import answers as A
from paii_jira import history as h
from paii_jira.adf import to_text
from paii_jira.client import SERVICE, JiraClient

COMMENT_WINDOW = timedelta(hours=1)
COMMENT_LOOKBACK = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_identifier(value: str, what: str) -> str:
    """``value`` unless it holds a control character (NUL, a newline, an escape...): Jira would store it
    (a label with a NUL in it cannot be searched for) or fail in a way that names nothing."""
    bad = _CONTROL.search(value)
    if bad:
        raise InvalidInput(
            f"{what} {value[:40]!r} contains a control character ({bad.group()!r}, at position {bad.start()}).",
            hint=f"Remove it: {what} must be plain printable text.")
    return value


def answered(lost: OutcomeUnknown) -> bool:
    """Did the service finish the write before answering (a 500, an answer of the wrong shape)? Then reading
    back shows all of it. A 502, 503 or 504 comes from a gateway or a timeout: the write may still be running."""
    return lost.status == 500 or isinstance(lost, UnexpectedWrite)


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def myself(jira: JiraClient) -> A.Myself:
    if "myself" not in jira.cache:
        jira.cache["myself"] = jira.get(f"{jira.api}/myself", expect=A.Myself)
    return jira.cache["myself"]


def _same_person(author: Any, me: A.Myself) -> bool:
    if not isinstance(author, dict):
        return False
    return any(mine and author.get(field) == mine for field, mine in
               (("accountId", me.accountId), ("name", me.name), ("key", me.key)))


def recent_same(jira: JiraClient, key: str, text: str) -> dict[str, Any] | None:
    """This account's comment on ``key`` with ``text`` written in the last hour, if there is one."""
    me = myself(jira)
    page = jira.get(f"{jira.api}/issue/{key}/comment", {"orderBy": "-created", "maxResults": COMMENT_LOOKBACK},
                    expect=A.Comments)
    now, want = jira.now(), _norm(text)
    for comment in page.comments:
        if not _same_person(comment.get("author"), me) or _norm(to_text(comment.get("body"))) != want:
            continue
        when = h.parse_time(comment.get("created"))
        if when is None or now - when <= COMMENT_WINDOW:
            return comment
    return None


def post_comment(jira: JiraClient, key: str, body: Any) -> tuple[dict[str, Any], str | None]:
    """Post ``body`` (ADF or text) on ``key`` once: (the comment, a note for the model or None)."""
    text = to_text(body)
    same = recent_same(jira, key, text)
    if same is not None:
        return same, (f"The same comment is already on {key} (added {same.get('created') or 'recently'}): not added "
                      "again. Change the text to add another.")
    check = (f"get_issue {key} shows its last comments; call add_comment again only if it is missing "
             "(add_comment never adds the same text twice within an hour).")
    call = f"POST /issue/{key}/comment"
    try:
        made = jira.post(f"{jira.api}/issue/{key}/comment", {"body": body}, expect=A.CommentCreated, check=check)
        return {"id": str(made.id)}, None
    except OutcomeUnknown as lost:
        found = read_back(lost, lambda: recent_same(jira, key, text), service=SERVICE, call=call, check=check)
        if found is not None:
            return found, f"Jira did not confirm the comment ({lost.detail}), but reading {key} back shows it was added."
        if answered(lost):
            raise UpstreamError(SERVICE, call, f"{lost.detail}; reading {key} back shows the comment is not there",
                                status=lost.status, hint="Jira answered, so it was not added: call add_comment again.") from None
        raise OutcomeUnknown(SERVICE, call, f"{lost.detail}; reading {key} back shows the comment is not there yet",
                             check=f"it may still arrive: {check}") from None


def transition_back(jira: JiraClient, key: str, target: str, lost: OutcomeUnknown) -> None:
    """After a transition whose answer was lost: return if ``key`` is in ``target`` now, else say what is known."""
    check = f"get_issue {key} shows its status; call transition_issue again only if it is not {target}."

    def status_now() -> str:
        issue = jira.get(f"{jira.api}/issue/{key}", {"fields": "status"}, expect=A.IssueRef)
        return str(((issue.fields or {}).get("status") or {}).get("name") or "")

    call = f"transition {key}"
    now = read_back(lost, status_now, service=SERVICE, call=call, check=check)
    if now.casefold() == target.casefold():
        return
    if answered(lost):
        raise UpstreamError(SERVICE, call, f"{lost.detail}; reading {key} back shows it is {now or 'unknown'}, not {target}",
                            status=lost.status, hint="Jira answered, so it did not move: call transition_issue again.") from None
    raise OutcomeUnknown(SERVICE, call, f"{lost.detail}; reading {key} back shows it is {now or 'unknown'}, not {target} yet",
                         check=f"it may still move: {check}") from None
