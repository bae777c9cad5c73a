"""The ``paii`` command's shared behaviour: --version, exit codes, JSON errors, text that is not UTF-8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paii_cli import main

PAII = Path(sys.executable).with_name("paii")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as code:
        main(argv)
    out = capsys.readouterr()
    return code.value.code, out.out, out.err


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"paii {version('paii')}"


def test_with_json_an_error_is_one_json_document_on_stdout(capsys):
    code, out, err = run(["history", "get", "INC-NOPE", "--json"], capsys)
    data = json.loads(out)
    assert code == data["code"] == 1 and "INC-NOPE" in data["error"] and err == ""


def test_without_json_an_error_is_one_line_on_stderr(capsys):
    code, out, err = run(["history", "get", "INC-NOPE"], capsys)
    assert code == 1 and out == "" and err.startswith("paii: ") and len(err.strip().splitlines()) == 1


def test_with_json_a_usage_error_is_json_with_code_2(capsys):
    code, out, _ = run(["history", "similar", "-k", "many", "payments", "--json"], capsys)
    data = json.loads(out)
    assert code == data["code"] == 2 and "-k" in data["error"] and "not a whole number" in data["error"]


def test_bad_input_exits_2_naming_the_argument_and_the_range(capsys):
    code, _, err = run(["history", "search", "payments", "--since", "99999y"], capsys)
    assert code == 2 and "since" in err and "before 1970" in err and "Traceback" not in err


def test_an_argument_that_is_not_utf8_is_refused_clearly(isolated_env):
    out = subprocess.run([os.fsencode(PAII), b"history", b"search", b"caf\xe9"], capture_output=True, timeout=120)
    err = out.stderr.decode()
    assert out.returncode == 2 and "argument 3" in err and "is not valid UTF-8" in err
    assert "TextEncodeInput" not in err and len(err.strip().splitlines()) == 1


def test_an_argument_that_is_not_utf8_is_json_with_json(capsys):
    # what Python makes of the bytes ff fe in argv (surrogateescape), as in the subprocess test above
    code, out, _ = run(["history", "similar", "--json", os.fsdecode(b"\xff\xfe")], capsys)
    data = json.loads(out)
    assert code == data["code"] == 2 and "argument 4" in data["error"] and "not valid UTF-8" in data["error"]


def test_stdin_that_is_not_utf8_is_refused_clearly(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"db pool \xff\xfe exhausted"), errors="surrogateescape"))
    code, _, err = run(["history", "similar", "-"], capsys)
    assert code == 2 and "not" in err and "UTF-8" in err


def test_an_unexpected_exception_is_reported_as_a_bug_without_a_traceback(capsys, monkeypatch):
    import paii_cli.history_cmd as history_cmd

    def boom(args):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(history_cmd, "cmd_history_stats", boom)
    code, _, err = run(["history", "stats"], capsys)
    assert code == 1 and "OverflowError: date value out of range" in err and "PAII bug" in err and "Traceback" not in err


def test_a_setting_a_server_refuses_stops_the_command_with_exit_2_naming_the_variable(capsys, monkeypatch):
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "bogus")
    code, _, err = run(["history", "recent"], capsys)
    assert code == 2 and "PAII_HISTORY_EMBEDDINGS='bogus': Input should be 'auto' or 'off'" in err
    assert len(err.strip().splitlines()) == 1
