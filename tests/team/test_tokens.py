"""The tokens file and `paii auth`: format, re-reading, constant-time matching, the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from paii_common import auth
from paii_common.redact import redact

from ..history.cli import run

PLAIN = "s3cr3t-token-for-alice"


def test_the_file_format_plain_hashed_read_only_comments_and_bad_lines(tmp_path, caplog):
    hashed = auth.digest("bobs-token").hex()
    path = tmp_path / "tokens"
    path.write_text(f"# the team\n\nalice:{PLAIN}\nbob:sha256:{hashed}:read-only\nviewer:view-token-123:read-only\n"
                    "bad name:xyz\nnocolon\ncarol:sha256:nothex\n")
    with caplog.at_level(logging.WARNING, logger="paii.auth"):
        tokens = auth.TokenFile(path)
        entries = tokens.entries()
    assert [(e.name, e.read_only, e.hashed) for e in entries] == [("alice", False, False), ("bob", True, True),
                                                                    ("viewer", True, False)]
    assert tokens.match(PLAIN).name == "alice" and tokens.match("bobs-token").name == "bob"
    assert tokens.match("view-token-123").read_only and tokens.match("nope") is None and tokens.match("") is None
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        f"line 6: the name is not {auth.NAME_RULE}: skipped",
        "line 7: expected name:token, name:sha256:<hex>, either followed by :read-only: skipped",
        "line 8: sha256: must be followed by 64 hex digits: skipped"]
    assert "xyz" not in caplog.text and PLAIN not in caplog.text, "a bad line's text may be a token: never logged"
    assert redact(f"Authorization: Bearer {PLAIN}").count(PLAIN) == 0, "plain tokens are registered for redaction"


def test_the_file_is_read_again_when_it_changes_and_a_missing_file_refuses_everyone(tmp_path):
    path = tmp_path / "tokens"
    tokens = auth.TokenFile(path)
    assert tokens.match(PLAIN) is None  # no file yet
    path.write_text(f"alice:{PLAIN}\n")
    assert tokens.match(PLAIN).name == "alice"
    with open(path, "a") as fh:  # edited in place (same inode)
        fh.write("bob:bobs-token-xyz\n")
    assert tokens.match("bobs-token-xyz").name == "bob"
    os.unlink(path)
    assert tokens.match(PLAIN) is None


def test_the_verifier_gives_the_sdk_the_name_and_rights_never_the_token(tmp_path):
    path = tmp_path / "tokens"
    token = auth.add_token(path, "alice")
    viewer = auth.add_token(path, "viewer", read_only=True)
    verifier = auth.FileTokenVerifier(auth.TokenFile(path))
    alice = asyncio.run(verifier.verify_token(token))
    assert alice.client_id == "alice" and alice.scopes == [auth.READ_SCOPE, auth.WRITE_SCOPE] and token not in alice.token
    assert asyncio.run(verifier.verify_token(viewer)).scopes == [auth.READ_SCOPE]
    assert asyncio.run(verifier.verify_token(token + "x")) is None


def test_every_line_is_compared_not_just_until_the_first_match(tmp_path, monkeypatch):
    path = tmp_path / "tokens"
    path.write_text("".join(f"user{n}:token-number-{n}\n" for n in range(5)))
    calls = []
    import hmac

    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert auth.TokenFile(path).match("token-number-0").name == "user0"
    assert len(calls) == 5


def test_a_token_swapped_in_place_with_the_same_size_and_mtime_is_refused_at_once(tmp_path):
    # issue 24 item 6: the cache was keyed on (inode, mtime_ns, size); tokens are all 43 characters
    path = tmp_path / "tokens"
    old = auth.add_token(path, "alice")
    tokens = auth.TokenFile(path)
    assert tokens.match(old).name == "alice"
    new = "N" * len(old)
    before = os.stat(path)
    with open(path, "r+") as fh:  # the same inode, the same size
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime put back
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert tokens.match(old) is None and tokens.match(new).name == "alice"


# ------------------------------------------------------------------------------ paii auth
def test_paii_auth_add_is_refused_in_read_only_mode_and_remove_is_not(capsys, isolated_env, monkeypatch):
    # issue 24 item 8: `paii auth add` worked with PAII_READ_ONLY=1
    path = Path(os.environ["PAII_CONFIG_DIR"]) / "tokens"
    assert run(capsys, "auth", "add", "alice").code == 0
    monkeypatch.setenv("PAII_READ_ONLY", "1")
    refused = run(capsys, "auth", "add", "bob")
    assert refused.code == 1 and "read-only mode is on" in refused.err and "paii auth add" in refused.err
    assert "bob" not in path.read_text()
    assert run(capsys, "auth", "remove", "alice").code == 0  # revoking access is never blocked
    assert "alice" not in path.read_text()

def test_paii_auth_add_prints_the_token_once_and_the_file_is_private(capsys, isolated_env):
    first = run(capsys, "auth", "add", "alice")
    token = first.out.strip()
    assert first.code == 0 and len(token) >= 40 and "shown this once" in first.err and token not in first.err
    path = Path(os.environ["PAII_CONFIG_DIR"]) / "tokens"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and f"alice:{token}" in path.read_text()
    listed = run(capsys, "auth", "list")
    assert listed.code == 0 and listed.out == "alice\n" and token not in listed.out + listed.err
    again = run(capsys, "auth", "add", "alice")
    assert again.code == 1 and "already has a token" in again.err


def test_paii_auth_add_hashed_read_only_and_remove(capsys, tmp_path):
    path = tmp_path / "team-tokens"
    added = run(capsys, "auth", "add", "viewer", "--read-only", "--hashed", "--file", str(path), "--json")
    data = json.loads(added.out)
    assert data["read_only"] and data["hashed"] and data["token"] not in path.read_text()
    assert auth.TokenFile(path).match(data["token"]).read_only
    listed = json.loads(run(capsys, "auth", "list", "--file", str(path), "--json").out)
    assert listed["tokens"] == [{"name": "viewer", "read_only": True, "hashed": True, "line": 2}]
    assert run(capsys, "auth", "remove", "viewer", "--file", str(path)).code == 0
    assert auth.TokenFile(path).match(data["token"]) is None
    missing = run(capsys, "auth", "remove", "viewer", "--file", str(path))
    assert missing.code == 1 and "paii auth list" in missing.err


@pytest.mark.parametrize("name", ["bad name", ".dot", "a:b", "x" * 65])
def test_paii_auth_add_refuses_a_name_that_cannot_be_a_line(capsys, name):
    r = run(capsys, "auth", "add", name)
    assert r.code == 2 and "not a valid name" in r.err


def test_PAII_AUTH_TOKENS_FILE_chooses_the_file_and_an_unexpanded_placeholder_does_not(capsys, tmp_path, monkeypatch):
    path = tmp_path / "elsewhere"
    monkeypatch.setenv("PAII_AUTH_TOKENS_FILE", str(path))
    assert run(capsys, "auth", "add", "alice").code == 0 and path.exists()
    monkeypatch.setenv("PAII_AUTH_TOKENS_FILE", "${user_config.tokens_file}")
    from paii_common.transport import TransportSettings

    assert TransportSettings.load().tokens_path() == auth.default_tokens_file()
