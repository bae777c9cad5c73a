"""The front of a PAII server (Python 3.11+ standard library only): answers the MCP handshake at
once from servers/paii_<name>/handshake.json, and starts the real server only when it is needed.

Claude Code starts six PAII servers in every session and gives each 30 s to connect; most
sessions call few of them. The front answers `initialize`, `tools/list`, `prompts/list`,
`resources/list`, `resources/templates/list` and `ping` itself (the answers the real server gives,
made by `python -m paii_common.handshake`; read-only mode drops the writers and Slack's
stakeholder channel is filled into the instructions, as the server does). The first other request
(a tool call) starts the real server with the venv's python: the front replays the client's
`initialize` to it, hides that second handshake, then passes every message both ways unchanged:
requests, responses, notifications (progress, cancellation, list_changed) and the server's own
requests to the client (`elicitation/create`, `roots/list`). Once it runs, every request goes to it.

While PAII's Python packages install (the first start after installing or updating the plugin), a
tool call is answered at once with a tool error saying how far the install is and when to try
again, never with a wait the client times out on. If the real server stops (or cannot start: a bad
setting), the requests it had are answered with its last words on stderr, and the next tool call
starts it again.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paii_handshake import Handshake, load_handshake  # noqa: E402,F401

REPLAY_ID = "paii-front-initialize"  # the id of the initialize the front replays to the real server
INTERNAL_ERROR = -32603


class Siblings:
    """The other PAII servers of the same Claude Code session (the same parent process). When one
    front's real server has answered its first tool call, the others start theirs in the
    background, so the session's next PAII calls find them running; a session that never calls a
    PAII tool starts none. Each front listens on a FIFO, <plugin data>/run/<parent pid>/<server>.wake."""

    def __init__(self, data: Path, name: str, parent: int | None = None) -> None:
        self.run = data / "run"
        self.folder = self.run / str(parent or os.getppid())
        self.path = self.folder / f"{name}.wake"

    def listen(self, events: queue.Queue) -> bool:
        try:
            self._clean_stale()
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists() or self.path.is_symlink():
                self.path.unlink()
            os.mkfifo(self.path, 0o600)
        except (OSError, AttributeError):  # no FIFOs here: the servers start on their own calls only
            return False
        threading.Thread(target=self._wait, args=(events,), daemon=True).start()
        return True

    def _wait(self, events: queue.Queue) -> None:
        while True:
            try:
                with open(self.path, "rb") as fifo:  # blocks until a sibling opens it to write
                    fifo.read()
            except OSError:
                return
            events.put(("wake", None))

    def wake_others(self) -> int:
        woken = 0
        for fifo in sorted(self.folder.glob("*.wake")):
            if fifo == self.path:
                continue
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO when its front is gone
            except OSError:
                continue
            try:
                os.write(fd, b"w")
                woken += 1
            except OSError:
                pass
            finally:
                os.close(fd)
        return woken

    def close(self) -> None:
        try:
            self.path.unlink()
            self.folder.rmdir()  # the last front of the session removes the folder
        except OSError:
            pass

    def _clean_stale(self) -> None:
        """Folders of sessions whose Claude Code is gone (a front killed before it could clean up)."""
        try:
            folders = [d for d in self.run.iterdir() if d.name.isdigit()]
        except OSError:
            return
        for folder in folders:
            try:
                os.kill(int(folder.name), 0)
            except ProcessLookupError:
                for leftover in folder.glob("*"):
                    leftover.unlink(missing_ok=True)
                folder.rmdir()
            except OSError:
                pass


def tool_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


class Front:
    """One client on stdin/stdout, at most one real server at a time (started by ``spawn``).

    ``status()`` is None when the real server can start, else why not yet (the install's
    progress). ``spawn()`` starts it (a Popen with pipes) or raises OSError. ``on_result`` may
    rewrite a tools/call result from the real server (the history server's one-time note).
    """

    def __init__(self, handshake: Handshake, *, status: Callable[[], str | None], spawn: Callable[[], subprocess.Popen],
                 name: str, start_now: bool = False, on_result: Callable[[dict], dict] | None = None,
                 siblings: Siblings | None = None, stdin=None, stdout=None) -> None:
        self.handshake, self.status, self.spawn, self.name = handshake, status, spawn, name
        self.start_now, self.on_result, self.siblings = start_now, on_result, siblings
        self.woke = False  # the siblings were woken (or this front was woken by one)
        self.stdin = stdin or sys.stdin.buffer
        self.stdout = stdout or sys.stdout.buffer
        self.events: queue.Queue = queue.Queue()
        self.init_params: dict[str, Any] | None = None
        self.version = handshake.doc["protocol_versions"][-1]
        self.proxy = False  # True: the client's own initialize went to the real server (no replay)
        self.real: subprocess.Popen | None = None
        self.generation = 0
        self.ready = False
        self.pending: list[tuple[dict | None, bytes]] = []  # (message, raw line) until the real server is ready
        self.inflight: dict[Any, str] = {}  # id -> method of client requests the real server has
        self.tail: deque[str] = deque(maxlen=12)
        self.stderr_reader: threading.Thread | None = None

    # ------------------------------------------------------------------ output
    def _send(self, message: dict[str, Any]) -> None:
        self._write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    def _write(self, line: bytes) -> None:
        try:
            self.stdout.write(line if line.endswith(b"\n") else line + b"\n")
            self.stdout.flush()
        except (BrokenPipeError, ValueError):
            pass  # the client is gone; stdin's end will stop us

    def _to_real(self, line: bytes) -> None:
        try:
            assert self.real is not None and self.real.stdin is not None
            self.real.stdin.write(line if line.endswith(b"\n") else line + b"\n")
            self.real.stdin.flush()
        except (BrokenPipeError, ValueError, OSError, AssertionError):
            pass  # it died: its end of output is on the way and answers what it had

    def _reply(self, rid: Any, result: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "id": rid, "result": result})

    def _fail(self, rid: Any, method: str, text: str) -> None:
        if method == "tools/call":
            self._reply(rid, tool_error(text))
        else:
            self._send({"jsonrpc": "2.0", "id": rid, "error": {"code": INTERNAL_ERROR, "message": text}})

    # ------------------------------------------------------------------ threads
    def _read_client(self) -> None:
        for line in iter(self.stdin.readline, b""):
            self.events.put(("client", line))
        self.events.put(("client-eof", None))

    def _read_real(self, proc: subprocess.Popen, generation: int) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            self.events.put(("real", (generation, line)))
        self.events.put(("real-eof", generation))

    def _relay_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            text = line.decode(errors="replace")
            self.tail.append(text.rstrip())
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    # ------------------------------------------------------------------ the real server
    def _start(self) -> str | None:
        """Start the real server and replay the handshake; None, or why it cannot start."""
        if self.real is not None:
            return None
        waiting = self.status()  # e.g. the packages are still installing: say so, never block
        if waiting:
            return waiting
        try:
            proc = self.spawn()
        except OSError as exc:
            return f"the PAII {self.name} server could not start: {exc}"
        self.real, self.ready, self.generation = proc, False, self.generation + 1
        self.tail.clear()
        threading.Thread(target=self._read_real, args=(proc, self.generation), daemon=True).start()
        self.stderr_reader = threading.Thread(target=self._relay_stderr, args=(proc,), daemon=True)
        self.stderr_reader.start()
        if self.proxy:
            self._became_ready(replayed=False)
        else:
            params = self.init_params or {"protocolVersion": self.version, "capabilities": {},
                                          "clientInfo": {"name": "paii-front", "version": "1"}}
            self._to_real(json.dumps({"jsonrpc": "2.0", "id": REPLAY_ID, "method": "initialize", "params": params}).encode())
        return None

    def _became_ready(self, replayed: bool = True) -> None:
        self.ready = True
        if replayed:
            self._to_real(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        pending, self.pending = self.pending, []
        for message, line in pending:
            self._forward(message, line)

    def _forward(self, message: dict | None, line: bytes) -> None:
        if message is not None and "method" in message and "id" in message:
            self.inflight[message["id"]] = message["method"]
        self._to_real(line)

    def _stopped(self, generation: int) -> None:
        if generation != self.generation or self.real is None:
            return
        proc, self.real, self.ready = self.real, None, False
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if self.stderr_reader is not None:
            self.stderr_reader.join(timeout=2)  # its last words may still be in the pipe
        words = " / ".join(t for t in self.tail if t.strip())[-1500:] or "no message"
        text = (f"the PAII {self.name} server stopped (exit {code}): {words}. "
                "Fix what it says (`paii doctor` checks the settings), then call the tool again: it restarts.")
        waiting = [(m["id"], m["method"]) for m, _ in self.pending if m and "id" in m and "method" in m]
        waiting += list(self.inflight.items())
        self.pending, self.inflight = [], {}
        for rid, method in waiting:
            self._fail(rid, method, text)

    # ------------------------------------------------------------------ messages
    def _client(self, line: bytes) -> None:
        if not line.strip():
            return None
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):  # the real server answers what it cannot read
            return self._queue(None, line)
        method, rid = message.get("method"), message.get("id")
        if method is None:  # a response to the real server's request (elicitation, roots)
            if self.real is not None:
                self._to_real(line)
            return None
        if "id" not in message:
            return self._notification(message, line)
        if self.ready:
            return self._forward(message, line)
        if method == "initialize" and self.init_params is None and not self.proxy:
            params = message.get("params")
            if isinstance(params, dict) and isinstance(params.get("protocolVersion"), str):
                self.init_params = params
                self.version = self.handshake.negotiate(params["protocolVersion"])
                return self._reply(rid, self.handshake.initialize(params["protocolVersion"]))
            self.proxy = True  # something the front does not know: let the server answer it all
            return self._queue(message, line)
        if self.init_params is not None and not (message.get("params") or {}).get("cursor"):
            answer = self.handshake.answer(method, self.version)
            if answer is not None:
                return self._reply(rid, answer)
        return self._queue(message, line)

    def _queue(self, message: dict | None, line: bytes) -> None:
        if self.ready:
            return self._forward(message, line)
        self.pending.append((message, line))
        problem = self._start()
        if problem:
            self.pending.pop()
            if message is not None and "id" in message:
                self._fail(message["id"], message.get("method", ""), problem)
        return None

    def _notification(self, message: dict, line: bytes) -> None:
        method = message["method"]
        if method == "notifications/initialized" and not self.proxy:
            if self.start_now and self.real is None:
                self._start()
            return None  # the front sends the real server its own, after the replay
        if method == "notifications/cancelled":
            cancelled = (message.get("params") or {}).get("requestId")
            before = len(self.pending)
            self.pending = [(m, raw) for m, raw in self.pending if not (m and m.get("id") == cancelled and "method" in m)]
            if len(self.pending) != before:
                return None  # it never reached the server: nothing to answer (the client gave up)
            self.inflight.pop(cancelled, None)  # the client expects no answer to it any more
        if self.ready:
            self._to_real(line)
        elif self.real is not None:
            self.pending.append((message, line))
        return None  # before the server runs, a change notice (roots) means nothing to it

    def _real(self, generation: int, line: bytes) -> None:
        if generation != self.generation:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return self._write(line)
        if not isinstance(message, dict):
            return self._write(line)
        if message.get("id") == REPLAY_ID and "method" not in message:
            if "result" in message:
                return self._became_ready()
            error = (message.get("error") or {}).get("message", "refused the handshake")
            self.tail.append(f"initialize: {error}")
            if self.real is not None:
                self.real.kill()
            return None
        if "method" not in message and "id" in message:
            method = self.inflight.pop(message["id"], None)
            if method == "tools/call" and self.on_result and isinstance(message.get("result"), dict):
                message["result"] = self.on_result(message["result"])
                self._send(message)
            else:
                self._write(line)
            if method == "tools/call" and not self.woke and self.siblings is not None:
                self.woke = True
                self.siblings.wake_others()  # after this answer is out: they do not slow it down
            return None
        return self._write(line)

    # ------------------------------------------------------------------ main loop
    def run(self, drain_s: float = 60.0) -> int:
        """Serve until the client closes stdin, then until the real server has answered what it
        was asked (at most drain_s more seconds), then stop it."""
        threading.Thread(target=self._read_client, daemon=True).start()
        if self.siblings is not None:
            self.siblings.listen(self.events)
        closing_at = None
        while True:
            if closing_at is not None:
                busy = self.real is not None and (self.inflight or any(m and "id" in m for m, _ in self.pending))
                left = closing_at + drain_s - time.monotonic()
                if not busy or left <= 0:
                    break
                try:
                    kind, data = self.events.get(timeout=left)
                except queue.Empty:
                    break
            else:
                kind, data = self.events.get()
            if kind == "client":
                self._client(data)
            elif kind == "real":
                self._real(*data)
            elif kind == "real-eof":
                self._stopped(data)
            elif kind == "wake":
                self._woken()
            elif kind == "client-eof":
                closing_at = time.monotonic()
        return self._shutdown()

    def _woken(self) -> None:
        """A sibling's server answered a call: start this one too, in the background."""
        self.woke = True
        if self.real is None and not self.proxy and self.init_params is not None:
            self._start()  # unless the packages are still installing

    def _shutdown(self) -> int:
        if self.siblings is not None:
            self.siblings.close()
        proc = self.real
        if proc is None:
            return 0
        try:
            assert proc.stdin is not None
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
        return 0
