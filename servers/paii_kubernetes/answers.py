"""The shapes of the API server's answers, as far as the tools read them (:func:`paii_common.answers.expect`).

:meth:`paii_kubernetes.client.KubernetesClient.call` picks the shape from the generated method it
calls: ``list_*`` a list with ``items``, ``read_*``/``patch_*`` an object with ``metadata.name``,
``delete_*`` that or a ``Status``; a log is text. An answer that does not fit is "Kubernetes answered
with something unexpected", never an empty list nor a crash.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import StringConstraints

from paii_common.answers import Answer

Name = Annotated[str, StringConstraints(min_length=1, max_length=253)]


class Meta(Answer):
    name: Name
    uid: str | None = None


class Object(Answer):
    metadata: Meta
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class ObjectList(Answer):
    items: list[Object]


class Status(Answer):
    """What a delete may answer instead of the object."""

    kind: Literal["Status"]
    status: str


def shape_of(method: str) -> Any:
    """The shape a generated API method's answer must have (None: not checked)."""
    if method.startswith("list_"):
        return ObjectList
    if method.endswith("_log") or method.startswith("connect_"):
        return None
    if method.startswith("delete_"):
        return Object | Status
    if method.startswith(("read_", "patch_", "replace_", "create_")):
        return Object
    return None
