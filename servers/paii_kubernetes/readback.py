"""Writes whose answer is lost or unexpected: read the cluster back and report the truth.

The client never re-sends a write (a DELETE neither: a StatefulSet pod comes back under the same
name, and a second DELETE would remove the replacement). When the answer of a PATCH or DELETE is a
5xx, an unexpected body or nothing at all, the tools read the object back:

* the change is there (the pod is gone, Terminating or replaced by one with another uid; the
  deployment has the restart stamp or the replicas): success, saying Kubernetes did not confirm it;
* it is not, and the API server answered: it was not made, calling again is safe;
* it is not, and no answer came: it may still land; the error says how to check;
* the read back fails too: the outcome is unknown (:func:`paii_common.answers.read_back`).

A repeat of a write whose outcome was unknown is made safe (:class:`Pending`: a write is pending
from just before it is sent until its call answers, so an answer lost to the tool's own deadline
counts too): a delete sends the uid it saw as a precondition and, if that pod has since been
replaced, refuses once rather than delete the replacement; a restart re-sends the same
``restartedAt`` stamp, so it restarts once; the same command is not run again without a word.
"""

from __future__ import annotations

import time
from typing import Any

from paii_common.answers import UnexpectedWrite, read_back
from paii_common.errors import Conflict, NotFound, OutcomeUnknown, UpstreamError

from paii_kubernetes.client import SERVICE, KubernetesClient

PENDING_S = 600.0  # how long a write whose outcome was unknown is remembered


def answered(lost: OutcomeUnknown) -> bool:
    """Did the service finish the write before answering (a 500, an answer of the wrong shape)? Then reading
    back shows all of it. A 502, 503 or 504 comes from a gateway or a timeout: the write may still be running."""
    return lost.status == 500 or isinstance(lost, UnexpectedWrite)


class Pending:
    """Writes whose outcome was unknown, by (context, namespace, name): what they sent, and when."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, ...], tuple[str, float]] = {}

    def get(self, key: tuple[str, ...]) -> tuple[str, float] | None:
        now = time.monotonic()
        for k in [k for k, (_, t) in self._items.items() if now - t > PENDING_S]:
            del self._items[k]
        return self._items.get(key)

    def put(self, key: tuple[str, ...], value: str) -> None:
        self._items[key] = (value, time.monotonic())

    def drop(self, key: tuple[str, ...]) -> None:
        self._items.pop(key, None)


def pod_or_none(k8s: KubernetesClient, name: str, ns: str, context: str | None) -> dict[str, Any] | None:
    try:
        return k8s.call(f"read pod {name} in {ns}", k8s.core(context).read_namespaced_pod, name, ns)
    except NotFound:
        return None


def refuse_replacement(name: str, ns: str, deleted_uid: str, pod: dict[str, Any], since: float) -> Conflict:
    meta = pod.get("metadata") or {}
    return Conflict(
        f"pod {ns}/{name} was already deleted by delete_pod {time.monotonic() - since:.0f} s ago (uid {deleted_uid[:8]}…, "
        f"its answer was lost); the pod of that name now is its replacement (uid {str(meta.get('uid'))[:8]}…, created "
        f"{meta.get('creationTimestamp') or 'since'}). It was not deleted.",
        hint="Do not delete it just because the first call's answer was lost. If the person wants the replacement "
             "deleted too, ask them, then call delete_pod again.")


def delete_outcome(k8s: KubernetesClient, lost: OutcomeUnknown, name: str, ns: str, context: str | None,
                   uid: str | None, check: str) -> str:
    """After a DELETE whose answer was lost: how the pod was deleted (a sentence), or an error saying what is known."""
    what = f"delete pod {name} in {ns}"
    pod = read_back(lost, lambda: pod_or_none(k8s, name, ns, context), service=SERVICE, call=what, check=check)
    meta = (pod or {}).get("metadata") or {}
    if pod is None:
        return f"Kubernetes did not confirm the delete ({lost.detail}), but reading the pod back shows it is gone."
    if uid and meta.get("uid") and meta.get("uid") != uid:
        return (f"Kubernetes did not confirm the delete ({lost.detail}), but reading the pod back shows it was "
                f"replaced (a new pod of the same name, uid {str(meta.get('uid'))[:8]}…).")
    if meta.get("deletionTimestamp"):
        return f"Kubernetes did not confirm the delete ({lost.detail}), but reading the pod back shows it is Terminating."
    if answered(lost):
        raise UpstreamError(SERVICE, what, f"{lost.detail}; reading the pod back shows it is still there (uid {str(uid)[:8]}…)",
                            status=lost.status, hint="The API server answered, so it was not deleted: call delete_pod "
                            "again to retry.") from None
    raise OutcomeUnknown(SERVICE, what, f"{lost.detail}; reading the pod back shows it still there for now",
                         check=f"the delete may still happen: {check} delete_pod again will not delete a replacement.") from None


def patch_outcome(lost: OutcomeUnknown, read: Any, landed: Any, *, what: str, goal: str, tool: str, check: str) -> dict[str, Any]:
    """After a PATCH whose answer was lost: the object read back if ``landed(obj)``, else an error saying what is known."""
    obj = read_back(lost, read, service=SERVICE, call=what, check=check)
    if landed(obj):
        return obj
    if answered(lost):
        raise UpstreamError(SERVICE, what, f"{lost.detail}; reading it back shows it is not {goal}", status=lost.status,
                            hint=f"The API server answered, so it was not changed: call {tool} again to retry.") from None
    raise OutcomeUnknown(SERVICE, what, f"{lost.detail}; reading it back shows it is not {goal} yet",
                         check=f"the change may still land: {check}") from None
