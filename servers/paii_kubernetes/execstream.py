"""Pod exec over the API server's WebSocket (``kubernetes.stream``), with a deadline and an output cap.

The channel protocol (v4/v5.channel.k8s.io): binary frames whose first byte is the channel,
1 stdout, 2 stderr, 3 the final ``Status`` (``Success``, or ``Failure`` with reason
``NonZeroExitCode`` and the exit code in ``details.causes``). The library's client keeps a copy of
everything it reads for ``read_all()``; that copy is switched off so a chatty command cannot fill
memory, and each channel is drained as it arrives, keeping at most ``max_bytes`` per stream.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from paii_kubernetes.models import ExecResult

if TYPE_CHECKING:
    from paii_kubernetes.client import KubernetesClient

CONNECT_TIMEOUT = 10.0
EXEC_CHECK = ("the command may have run, wholly or in part: tell the person, and look at what it changes before "
              "running it again.")


class _Discard:
    def write(self, _data: Any) -> None:
        pass

    def getvalue(self) -> str:
        return ""


class _Capped:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def add(self, data: str) -> None:
        if not data:
            return
        room = self.limit - self.size
        if room <= 0:
            self.truncated = True
            return
        if len(data) > room:
            data, self.truncated = data[:room], True
        self.parts.append(data)
        self.size += len(data)

    def text(self) -> str:
        return "".join(self.parts)


UNEXPECTED = "Kubernetes answered with something unexpected on the exec's status channel"


def exit_code_of(status_text: str) -> tuple[int | None, str | None]:
    """(exit code, error message) from the status channel's JSON; (None, None) without one."""
    if not status_text.strip():
        return None, None
    try:
        status = json.loads(status_text)
    except ValueError:
        return None, status_text.strip()[:300]
    if not isinstance(status, dict) or not isinstance(status.get("status"), str):
        return None, f"{UNEXPECTED} (not a Status)"
    if status.get("status") == "Success":
        return 0, None
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), None
            except (TypeError, ValueError):
                break
    return None, str(status.get("message") or "the command failed to start")


def run_exec(client: KubernetesClient, namespace: str, pod: str, argv: list[str], *, container: str | None,
             context: str | None, timeout: float, max_bytes: int, write: bool = False) -> ExecResult:
    import websocket
    from paii_kubernetes.reads import load_library

    load_library()
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    from paii_kubernetes.client import _where, mask_secrets

    core = client.core(context)
    fn = core.connect_get_namespaced_pod_exec
    what = f"exec in pod {pod} ({namespace})"
    started = time.monotonic()
    deadline = started + timeout
    websocket.setdefaulttimeout(min(CONNECT_TIMEOUT, timeout))  # the library's socket has no timeout of its own
    kwargs: dict[str, Any] = {"command": argv, "stderr": True, "stdin": False, "stdout": True, "tty": False}
    if container:
        kwargs["container"] = container
    try:
        ws = stream(fn, pod, namespace, _preload_content=False, **kwargs)
    except ApiException as exc:
        raise client.translate(exc, what, _where(fn), write=write, check=EXEC_CHECK) from None
    except (OSError, websocket.WebSocketException) as exc:
        raise client.unreachable(exc, what, _where(fn), write=write, check=EXEC_CHECK) from None
    if hasattr(ws, "_all"):
        ws._all = _Discard()  # see the module doc: bounded memory
    out, err = _Capped(max_bytes), _Capped(max_bytes)
    status_parts: list[str] = []
    timed_out = False

    def drain() -> None:
        out.add(ws.read_channel(1))
        err.add(ws.read_channel(2))
        status_parts.append(ws.read_channel(3))

    try:
        while ws.is_open():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ws.update(timeout=min(left, 1.0))
            drain()
        drain()
    except (OSError, websocket.WebSocketException):
        pass  # a broken stream: no exit status; what came so far is returned
    finally:
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - closing a broken socket must not hide the result
            pass
    code, message = exit_code_of("".join(status_parts))
    stderr = err.text()
    if message and code is None:
        stderr = (stderr + ("\n" if stderr else "") + message).strip()
    return ExecResult(
        stdout=mask_secrets(out.text()),
        stderr=mask_secrets(stderr),
        exit_code=None if timed_out else code,
        truncated=out.truncated or err.truncated,
        duration_s=round(time.monotonic() - started, 3),
        timed_out=timed_out,
    )
