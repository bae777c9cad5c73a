"""What runs a step's command: a local process (``run``) or the Kubernetes server's exec (``k8s_exec``).

``run`` starts ``argv`` directly (never a shell), after looking the program up in
``PAII_RUNBOOK_BIN_DIRS`` and then ``PATH``, under a watcher (:mod:`paii_runbook.watch`) that leads
a session of its own: after ``timeout`` seconds the watcher terminates the command's group; it
keeps the end of each output stream (errors come last) and writes the result to a file, so a step
outlives a server killed in its middle, and its outcome can still be read after a restart.

``k8s_exec`` uses ``paii_kubernetes`` (imported on first use): ``find_pods`` picks the first
ready pod that matches the selector, ``check_write_allowed`` refuses a changing command in a
protected namespace, and ``exec_in_pod`` runs the argv. Tests inject a fake client and a fake
write check.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_common.errors import PaiiError
from paii_runbook import procs
from paii_runbook.config import RunbookSettings

if TYPE_CHECKING:
    from paii_runbook.format import Command


@dataclass
class CommandResult:
    stdout: str
    stderr: str
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    pod: str | None = None
    error: str | None = None  # it could not run, or its outcome is unknown: why


class StepExecutor:
    def __init__(
        self,
        settings: RunbookSettings,
        kubernetes: Any | None = None,
        write_check: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._k8s = kubernetes
        self._write_check = write_check

    # ------------------------------------------------------------------ local commands
    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def search_path(self) -> str:
        dirs = [str(d) for d in self.settings.bin_dir_list()]
        return os.pathsep.join([*dirs, os.environ.get("PATH", os.defpath)])

    def which(self, program: str) -> str | None:
        if "/" in program:
            return program if os.access(program, os.X_OK) else None
        return shutil.which(program, path=self.search_path())

    def run(self, argv: list[str], timeout: float, track: Path | None = None) -> CommandResult:
        """Run argv under a watcher (:mod:`paii_runbook.watch`) in a session of its own. track: where the
        watcher leaves its files (the run's state names it, so a restarted server finds the process);
        without one, a temporary place, removed after."""
        started = time.monotonic()
        program = self.which(argv[0])
        if program is None:
            where = "PAII_RUNBOOK_BIN_DIRS and PATH" if self.settings.bin_dir_list() else "PATH"
            return CommandResult("", "", None, 0.0,
                                 error=f"{argv[0]}: command not found (searched {where}): install it or set PAII_RUNBOOK_BIN_DIRS")
        env = dict(os.environ, PATH=self.search_path())
        with contextlib.ExitStack() as stack:
            if track is None:
                track = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="paii-step-"))) / "check"
            track.parent.mkdir(parents=True, exist_ok=True)
            try:
                proc = subprocess.Popen(procs.watcher_argv(track, timeout, self.settings.max_output * 4, [program, *argv[1:]]),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env=env, start_new_session=True)
            except OSError as exc:
                return CommandResult("", "", None, time.monotonic() - started, error=f"{argv[0]} could not start: {exc}")
            try:
                proc.wait(timeout=timeout + 30)  # the watcher stops the command at its timeout
            except subprocess.TimeoutExpired:
                self._kill(proc, procs.read_json(track.with_name(track.name + ".started")))
            res = procs.result(track)
        if res is None:
            return CommandResult("", "", None, time.monotonic() - started,
                                 error="the step's watcher ended without a result: its outcome is unknown")
        result = CommandResult(res["stdout"], res["stderr"], res["exit_code"], float(res["duration_s"]),
                               timed_out=bool(res["timed_out"]), truncated=bool(res["truncated"]), error=res.get("error"))
        if result.timed_out:
            result.error = f"timed out after {timeout:g} s: the process group was stopped; it may have done part of its work"
        return result

    @staticmethod
    def _kill(proc: subprocess.Popen, started: dict | None) -> None:
        """Stop a watcher that did not end (and its command's group)."""
        for pgid in ((started or {}).get("pgid"), proc.pid):
            if pgid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    # ------------------------------------------------------------------ Kubernetes
    def kubernetes(self) -> Any:
        if self._k8s is None:
            try:
                from paii_kubernetes.client import KubernetesClient
                from paii_kubernetes.config import KubernetesSettings
            except ImportError:
                raise PaiiError("k8s_exec needs the PAII Kubernetes server (paii_kubernetes), which is not installed here: "
                                "run the step's command by hand, or install PAII with its Kubernetes server.") from None
            self._k8s = KubernetesClient(KubernetesSettings.load())
        return self._k8s

    def check_write(self, namespace: str) -> None:
        if self._write_check is not None:
            self._write_check(namespace)
            return
        from paii_kubernetes.config import KubernetesSettings
        from paii_kubernetes.policy import check_write_allowed

        settings = getattr(self.kubernetes(), "settings", None) or KubernetesSettings.load()
        check_write_allowed(namespace, settings)

    def k8s_exec(self, command: Command, *, changes: bool) -> CommandResult:
        started = time.monotonic()
        try:
            client = self.kubernetes()
            pods = client.find_pods(command.namespace, command.selector, context=command.context)
            if not pods:
                return CommandResult("", "", None, time.monotonic() - started,
                                     error=f"no running pod matches {command.selector} in {command.namespace}: "
                                           "check the selector, or list the pods")
            if changes:
                self.check_write(command.namespace)
            res = client.exec_in_pod(command.namespace, pods[0], list(command.argv), container=command.container,
                                     context=command.context, timeout=command.timeout)
        except PaiiError as exc:
            return CommandResult("", "", None, time.monotonic() - started, error=str(exc))
        except ImportError as exc:
            return CommandResult("", "", None, time.monotonic() - started, error=f"Kubernetes is unavailable: {exc}")
        timed_out = bool(getattr(res, "timed_out", False))
        result = CommandResult(res.stdout or "", res.stderr or "", res.exit_code, float(res.duration_s), timed_out=timed_out,
                               truncated=bool(res.truncated), pod=pods[0])
        if timed_out:
            result.error = f"timed out after {command.timeout:g} s in pod {pods[0]}"
        return result

    def execute(self, command: Command, *, changes: bool, track: Path | None = None) -> CommandResult:
        """Run a command; track: where a local command's watcher leaves its files (see :meth:`run`)."""
        if command.kind == "k8s_exec":
            return self.k8s_exec(command, changes=changes)
        return self.run(command.argv, command.timeout, track)
