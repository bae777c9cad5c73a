"""The shapes of Jira's answers, as far as the tools read them (:func:`paii_common.answers.expect`).

Only what the code cannot do without is required (an issue's ``key``, a page's ``issues``, a
created comment's ``id``); everything else stays loose and is read with defaults. An answer that
does not fit is "Jira answered with something unexpected", never a success nor a crash.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints, model_validator

from paii_common.answers import Answer

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*-\d+$", max_length=60)]
Obj = dict[str, Any]


class IssueRef(Answer):
    key: Key
    fields: Obj | None = None


class SearchJql(Answer):
    """POST /rest/api/3/search/jql"""

    issues: list[IssueRef]
    nextPageToken: str | None = None
    isLast: bool | None = None


class SearchV2(Answer):
    """GET /rest/api/2/search"""

    issues: list[IssueRef]
    total: int | None = None


class Page(Answer):
    """An agile list, a v3 project search, a v3 changelog: ``values`` with ``isLast`` / ``total``."""

    values: list[Obj]
    isLast: bool | None = None
    total: int | None = None


class Comments(Answer):
    comments: list[Obj]
    total: int | None = None


class Transitions(Answer):
    transitions: list[Obj]


class Created(Answer):
    """POST /issue"""

    key: Key
    id: str | int | None = None


class CommentCreated(Answer):
    """POST /issue/{key}/comment"""

    id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | int


class RemoteLinkCreated(Answer):
    """POST /issue/{key}/remotelink"""

    id: int | Annotated[str, StringConstraints(min_length=1)]


class Board(Answer):
    id: int
    name: str | None = None


class Sprint(Answer):
    id: int
    name: str | None = None
    state: str | None = None


class Myself(Answer):
    accountId: str | None = None
    name: str | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> Myself:
        if not (self.accountId or self.name or self.key):
            raise ValueError("neither accountId nor name is there")
        return self


Objects = list[Obj]
