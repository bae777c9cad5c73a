"""Running one step's action and judging it: a command and its expectation, or a wait's polls.

Nothing here touches run state: :mod:`paii_runbook.engine` claims the step, calls
:func:`execute`, and writes what it returns (an attempt: status, exit code, value, output...).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paii_common.redact import redact
from paii_common.untrusted import short
from paii_runbook.client import CommandResult, StepExecutor
from paii_runbook.expect import Expect
from paii_runbook.format import Command, Step
from paii_runbook.lint import step_changes
from paii_runbook.plan import step_command, substitute

Progress = Callable[[float, float | None, str], None]
MAX_POLLS = 10_000


def output_of(res: CommandResult, cap: int) -> tuple[str, bool]:
    """stdout, then stderr under a marker; the last ``cap`` characters, redacted."""
    text = res.stdout
    if res.stderr.strip():
        text = (text.rstrip("\n") + "\n" if text.strip() else "") + "[stderr]\n" + res.stderr
    truncated = res.truncated or len(text) > cap
    if len(text) > cap:
        text = "…" + text[-cap:]
    return redact(text.rstrip("\n")), truncated


def _judge(res: CommandResult, exp: Expect) -> tuple[bool, str | None, str]:
    if res.error:
        return False, None, res.error
    return exp.evaluate(res.stdout, res.exit_code)


def judged(res: CommandResult, exp: Expect, cap: int) -> dict[str, Any]:
    """A command's result judged by the step's expectation: the attempt's fields."""
    passed, value, why = _judge(res, exp)
    output, truncated = output_of(res, cap)
    return {"status": "passed" if passed else "failed", "exit_code": res.exit_code, "duration_s": round(res.duration_s, 3),
            "value": value, "reason": why, "output": output, "truncated": truncated, "pod": res.pod}


def _poll_track(track: Path | None, n: int) -> Path | None:
    return track.with_name(f"{track.name}.p{n}") if track else None


def _wait(executor: StepExecutor, step: Step, cmd: Command, changes: bool, cap: int,
          progress: Progress | None, track: Path | None) -> dict[str, Any]:
    w = step.wait
    assert w is not None
    polls = min(MAX_POLLS, math.floor(w.timeout / w.every) + 1)
    started = time.monotonic()
    observed: list[str] = []
    last: dict[str, Any] = {}
    for n in range(1, polls + 1):
        res = executor.execute(cmd, changes=changes, track=_poll_track(track, n))
        passed, value, why = _judge(res, w.until)
        output, truncated = output_of(res, cap)
        observed.append(value if value is not None else ("error" if res.error else "?"))
        last = {"exit_code": res.exit_code, "value": value, "reason": why, "output": output, "truncated": truncated,
                "pod": res.pod}
        if progress:
            progress(n, polls, f"{step.title}: poll {n}: {observed[-1]}" + (" (done)" if passed else ""))
        if passed:
            return {"status": "passed", **last, "reason": f"{w.until.describe()} after {n} polls", "observed": observed,
                    "duration_s": round(time.monotonic() - started, 3)}
        if res.error and "command not found" in res.error:
            break  # polling again cannot help
        if n < polls and time.monotonic() - started + w.every <= w.timeout + 1e-6:
            executor.sleep(w.every)
        elif n < polls:
            break
    reason = f"still not {w.until.describe()} after {len(observed)} polls over {w.timeout:g} s (last: {last.get('reason')})"
    return {"status": "failed", **last, "reason": reason, "observed": observed,
            "duration_s": round(time.monotonic() - started, 3)}


def execute(executor: StepExecutor, step: Step, params: dict[str, str], *, cap: int, confirmed_by: str | None,
            progress: Progress | None = None, track: Path | None = None) -> dict[str, Any]:
    """Run the step's action; returns the attempt's result fields. track: where its process's
    watcher leaves its files (a wait's polls each get their own, ``<track>.p<n>``)."""
    if step.kind == "note":
        return {"status": "passed", "reason": "nothing to run", "duration_s": 0.0}
    if step.kind == "manual":
        text = substitute(step.manual, params) or ""
        return {"status": "passed", "reason": f"done by hand, confirmed by {short(confirmed_by)}", "duration_s": 0.0,
                "output": redact(text)}
    cmd = step_command(step, params)
    assert cmd is not None
    changes = step_changes(step)[0]
    if step.kind == "wait":
        return _wait(executor, step, cmd, changes, cap, progress, track)
    if progress:
        progress(0, None, f"{step.title}: running")
    return judged(executor.execute(cmd, changes=changes, track=track), step.expect or Expect(), cap)


def check(executor: StepExecutor, cmd: Command, exp: Expect) -> tuple[bool, str | None, str]:
    """A preflight check: (passed, value, message)."""
    res = executor.execute(cmd, changes=False)
    passed, value, why = _judge(res, exp)
    if passed:
        shown = short(value, 200) if value not in (None, "") else "ok"  # the command's output: plain or marked
        return True, value, f"{shown} (expected {exp.describe()})" if exp.describe() != "exit code 0" else shown
    detail = ""
    if not res.error and res.stderr.strip():
        detail = ": " + short(res.stderr.strip().splitlines()[-1], 200)
    return False, value, why + detail
