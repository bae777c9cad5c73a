"""Run ``paii`` in this process, as a person or a script would, and keep what it printed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture, *argv: str) -> Run:
    from paii_cli import main

    capsys.readouterr()  # what came before is not this command's
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    captured = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else (0 if exc.value.code is None else 1)
    return Run(code, captured.out, captured.err)
