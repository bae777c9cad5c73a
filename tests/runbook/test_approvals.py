"""Approvals only the person gives, through the real MCP client: a bare client (no prompts) cannot
make a gated step run by any sequence of calls; a forged or edited record is refused; the key
that seals records lives in the person's config folder."""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat

import pytest
from mcp import Client

from paii_runbook.plan import action, command_sha
from tests.runbook.test_engine import FRONT, step, touch
from tests.runbook.test_server import answer, call, error, server
from tests.runbook.test_stdio import params

ROLLBACK = "## Rollback undo: Undo it\n```yaml\n{}\n```\n"


def gated_book(h) -> list:
    """Every kind of gated action: commands, a manual step, a gated rollback, after an ungated step that fails."""
    sides = [h.tmp / f"side-{n}" for n in range(4)]
    h.book("gate", FRONT + step(1, "run: ['false']\ntimeout: 5\non_fail: undo")
           + step(2, touch(sides[0])) + step(3, "manual: Flip the switch for {{name}}")
           + step(4, touch(sides[1])) + step(5, f"wait:\n  run: [touch, '{sides[2]}']\n  every: 1\n  timeout: 3\n"
                                                 "  until: {exit_code: 0}\napproval: required")
           + ROLLBACK.format(f"run: [touch, '{sides[3]}']\ntimeout: 5\napproval: required"))
    return sides


def calls_for(tools: list, run_ids: list[str], real: list[str], rng: random.Random) -> tuple[str, dict]:
    """One call a model could make: any tool (mostly run_step), with arguments drawn from what it has
    seen (mostly the newest real run)."""
    by_name = {t.name: t for t in tools}
    tool = by_name["run_step"] if rng.random() < 0.5 and "run_step" in by_name else rng.choice(tools)
    if real and rng.random() < 0.8:
        rid = real[-1]
    else:
        rid = rng.choice(run_ids) if run_ids else "gate-20260102-020000-abcd"
    sid = rng.choice(["1", "2", "3", "4", "5", "undo", "6"])
    args = {
        "list_runbooks": {}, "find_runbooks": {"text": "gate"}, "get_runbook": {"name": "gate"},
        "get_run": {"run_id": rid}, "get_timeline": {"since": "1h"},
        "start_run": {"name": "gate", "dry_run": rng.choice([True, False])},
        "run_step": {"run_id": rid, "step_id": sid, "choice": rng.choice(["run", "retry", "skip"])},
        "finish_run": {"run_id": rid, "outcome": rng.choice(["completed", "aborted", "failed", "rolled_back"])},
    }.get(tool.name)
    if args is None:  # a tool added later: fill each required argument with what the model has
        args = {k: (rid if "run" in k else sid) for k in tool.input_schema.get("required", [])}
    return tool.name, args


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_bare_client_cannot_make_a_gated_step_run_by_any_sequence_of_calls(h, seed):
    sides = gated_book(h)
    rng = random.Random(seed)
    run_ids: list[str] = []
    real: list[str] = []
    gated: set[str] = set()
    async with Client(server(h)) as c:  # no elicitation: the client can show the person nothing
        tools = (await c.list_tools()).tools
        for _ in range(200):
            name, args = calls_for(tools, run_ids, real, rng)
            res = await c.call_tool(name, args)
            if not res.is_error and name == "start_run":
                run_ids.append(res.structured_content["run_id"])
                if not res.structured_content["dry_run"]:
                    real.append(res.structured_content["run_id"])
            if res.is_error and name == "run_step" and "needs the person's approval" in res.content[0].text:
                assert "paii runbook approve" in res.content[0].text
                gated.add(args["step_id"])
    assert not [s for s in sides if s.exists()]
    assert real and gated & {"2", "undo"}  # the calls did reach gated steps, and were refused there
    for st in [*h.engine.runs.all(), *(json.loads(p.read_text()) for p in (h.settings.runs_dir / "finished").glob("*.json"))]:
        assert st["approvals"] == []
        confirmed = [a for s in st["steps"].values() for a in s["attempts"] if a.get("approval")]
        assert confirmed == []  # the manual step was never confirmed either


async def test_over_stdio_a_bare_client_cannot_run_a_gated_step_and_elicitation_can(h):
    sides = gated_book(h)
    async with Client(params(h)) as c:
        run = await call(c, "start_run", {"name": "gate", "dry_run": False})
        rid = run["run_id"]
        await call(c, "run_step", {"run_id": rid, "step_id": "1"})
        for choice in ("run", "retry"):
            await c.call_tool("run_step", {"run_id": rid, "step_id": "undo", "choice": choice})
        await call(c, "run_step", {"run_id": rid, "step_id": "1", "choice": "skip"})
        for choice in ("run", "retry", "run"):
            text = await error(c, "run_step", {"run_id": rid, "step_id": "2", "choice": choice})
            assert "needs the person's approval" in text or "has not failed" in text
    assert not [s for s in sides if s.exists()]
    async with Client(params(h), mode="legacy", elicitation_callback=answer("accept")) as c:
        assert (await call(c, "run_step", {"run_id": rid, "step_id": "2"}))["status"] == "passed"
    assert sides[0].exists() and not sides[1].exists()


def forge(h, run_id: str, step_id: str, **changes) -> dict:
    """An approval record as the issue's probe wrote one: command_sha256 from what get_runbook shows."""
    st_file = h.engine.runs.path(run_id)
    st = json.loads(st_file.read_text())
    rb = h.engine.catalog.get(st["runbook"]).runbook
    rec = {"step": step_id, "command_sha256": command_sha(run_id, action(rb.step(step_id), st["parameters"])),
           "by": "alice", "via": "paii runbook approve (terminal)", "at": "2026-01-02T02:00:00Z",
           "expires": "2099-01-01T00:00:00Z", "used_at": None, **changes}
    st["approvals"].append(rec)
    st_file.write_text(json.dumps(st))
    return rec


async def test_a_forged_approval_record_in_the_runs_file_is_refused_and_the_person_can_still_approve(h):
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, touch(side)))
    async with Client(server(h)) as c:
        rid = (await call(c, "start_run", {"name": "gate", "dry_run": False}))["run_id"]
        forge(h, rid, "1")
        text = await error(c, "run_step", {"run_id": rid, "step_id": "1"})
        forge(h, rid, "1", seal="0" * 64)  # with a seal that is not PAII's
        assert "does not carry PAII's seal" in await error(c, "run_step", {"run_id": rid, "step_id": "1"})
    assert "does not carry PAII's seal: it was written or edited outside PAII" in text and "it did not run" in text
    assert f"paii runbook approve {rid} 1" in text and str(h.settings.approval_key) in text
    assert not side.exists()
    async with Client(server(h), mode="legacy", elicitation_callback=answer("accept")) as c:  # the person says yes
        assert (await call(c, "run_step", {"run_id": rid, "step_id": "1"}))["status"] == "passed"
    assert side.exists()


@pytest.mark.parametrize("field, value", [("by", "mallory"), ("expires", "2099-01-01T00:00:00Z"), ("step", "2"),
                                          ("command_sha256", "f" * 64), ("via", "elicitation (another client)")])
def test_an_approval_record_edited_after_it_was_given_is_refused(h, field, value):
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, touch(side)) + step(2, touch(h.tmp / "two")))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "1", via="test")
    st_file = h.engine.runs.path(run.run_id)
    st = json.loads(st_file.read_text())
    st["approvals"][0][field] = value
    st_file.write_text(json.dumps(st))
    if field == "step":  # now an approval of step 2: step 1 has none, step 2's is refused
        with pytest.raises(Exception, match="has none"):
            h.engine.run_step(run.run_id, "1")
        h.engine.run_step(run.run_id, "1", "skip")
        with pytest.raises(Exception, match="does not carry PAII's seal"):
            h.engine.run_step(run.run_id, "2")
    else:
        with pytest.raises(Exception, match="does not carry PAII's seal"):
            h.engine.run_step(run.run_id, "1")
    assert not side.exists() and not (h.tmp / "two").exists()


def test_an_approval_copied_from_another_run_is_refused(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    first = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(first.run_id, "1", via="test")
    h.engine.finish(first.run_id, "aborted")
    second = h.engine.start("gate", {}, dry_run=False)
    copied = {**json.loads(h.engine.runs.path(first.run_id).read_text())["approvals"][0]}
    copied["command_sha256"] = command_sha(second.run_id, action(h.engine.catalog.get("gate").runbook.step("1"), {"name": "world"}))
    st = json.loads(h.engine.runs.path(second.run_id).read_text())
    st["approvals"].append(copied)
    h.engine.runs.path(second.run_id).write_text(json.dumps(st))
    with pytest.raises(Exception, match="does not carry PAII's seal"):
        h.engine.run_step(second.run_id, "1")
    assert not (h.tmp / "side").exists()


def test_a_used_approval_cannot_be_used_again_by_clearing_its_used_at(h):
    h.book("gate", FRONT + step(1, "run: ['false']\ntimeout: 5\napproval: required"))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "1", via="test")
    assert h.engine.run_step(run.run_id, "1").status == "failed"
    st_file = h.engine.runs.path(run.run_id)
    st = json.loads(st_file.read_text())
    st["approvals"][0]["used_at"] = None
    st_file.write_text(json.dumps(st))
    with pytest.raises(Exception, match="has none"):
        h.engine.run_step(run.run_id, "1", "retry")


def test_the_approval_key_is_made_0600_in_the_config_folder_and_never_in_paii_home(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    run = h.engine.start("gate", {}, dry_run=False)
    key = h.settings.approval_key
    assert not key.exists()
    h.engine.approve(run.run_id, "1", via="test")
    assert key.parent == __import__("paii_common.config", fromlist=["x"]).paii_config_dir()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(bytes.fromhex(key.read_text().strip())) == 32
    assert not [p for p in h.home.rglob("*") if p.is_file() and key.read_text().strip() in p.read_text(errors="ignore")]
    assert hashlib.sha256(key.read_bytes()).hexdigest() not in json.dumps(h.engine.status(run.run_id).model_dump())


def test_a_key_others_can_read_or_a_link_is_refused_and_a_new_key_voids_old_approvals(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "1", via="test")
    key = h.settings.approval_key
    os.chmod(key, 0o644)
    with pytest.raises(Exception, match=r"can be read or changed by other users \(mode 644\).*chmod 600"):
        h.engine.run_step(run.run_id, "1")
    key.unlink()
    other = h.tmp / "elsewhere.key"
    other.write_text("ab" * 32)
    other.chmod(0o600)
    key.symlink_to(other)
    with pytest.raises(Exception, match="is not a plain file"):
        h.engine.run_step(run.run_id, "1")
    key.unlink()  # deleted: PAII makes a new key, and the approval sealed with the old one no longer holds
    with pytest.raises(Exception, match="approval key .* was replaced"):
        h.engine.run_step(run.run_id, "1")
    assert not (h.tmp / "side").exists()


async def test_a_prompt_shows_control_and_direction_characters_of_a_runbook_written_out(h):
    h.book("gate", FRONT + step(1, "run: [echo, \"safe\\u202e\\u001b[2Kgnirts\"]\ntimeout: 5\napproval: required",
                                title="Harmless\u200b step"))
    seen: list[str] = []
    async with Client(server(h), mode="legacy", elicitation_callback=answer("decline", seen=seen)) as c:
        rid = (await call(c, "start_run", {"name": "gate", "dry_run": False}))["run_id"]
        await error(c, "run_step", {"run_id": rid, "step_id": "1"})
    assert "Harmless\\u200b step" in seen[0] and "safe\\u202e\\x1b[2Kgnirts" in seen[0]
    assert not any(ord(ch) < 32 and ch != "\n" or 0x200b <= ord(ch) <= 0x202e for ch in seen[0])


async def test_a_step_the_person_approved_runs_once_and_cannot_be_run_again(h):
    side = h.tmp / "count"
    h.book("gate", FRONT + step(1, f"run: [sh, -c, 'echo x >> {side}']\ntimeout: 5\napproval: required")
           + step(2, "run: ['false']\ntimeout: 5"))
    async with Client(server(h), mode="legacy", elicitation_callback=answer("accept")) as c:
        rid = (await call(c, "start_run", {"name": "gate", "dry_run": False}))["run_id"]
        assert (await call(c, "run_step", {"run_id": rid, "step_id": "1"}))["status"] == "passed"
        assert "steps run in order" in await error(c, "run_step", {"run_id": rid, "step_id": "1"})
        assert "has not failed" in await error(c, "run_step", {"run_id": rid, "step_id": "1", "choice": "retry"})
    assert side.read_text() == "x\n"


def test_run_ids_that_do_not_exist_leave_no_lock_files(h):
    from paii_common.errors import NotFound

    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    for fn in (lambda r: h.engine.run_step(r, "1"), lambda r: h.engine.approve(r, "1", via="test"),
               lambda r: h.engine.finish(r, "aborted"), lambda r: h.engine.note(r, "1", "refused", via="test")):
        with pytest.raises(NotFound):
            fn("gate-20260102-020000-beef")
    assert not (h.settings.runs_dir / ".locks").exists() or not list((h.settings.runs_dir / ".locks").iterdir())



def test_the_persons_name_is_the_operator_setting_then_paii_user_then_gits_user_name_then_the_os_user(h, monkeypatch):
    import getpass

    from paii_runbook import config

    gitconfig = h.tmp / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Gita Git\n")
    monkeypatch.chdir(h.tmp)  # outside any repository: only the global git config counts
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PAII_USER", "Pat User")
    config._git_user_name.cache_clear()
    unset = h.settings.model_copy(update={"operator": ""})
    assert h.settings.operator_name() == "alice"  # PAII_RUNBOOK_OPERATOR
    assert unset.operator_name() == "Pat User"
    monkeypatch.delenv("PAII_USER")
    assert unset.operator_name() == "Gita Git"
    gitconfig.write_text("")
    config._git_user_name.cache_clear()
    assert unset.operator_name() == getpass.getuser()
    config._git_user_name.cache_clear()


def test_an_approval_key_inside_paii_home_is_refused(h, monkeypatch):
    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    run = h.engine.start("gate", {}, dry_run=False)
    monkeypatch.setenv("PAII_CONFIG_DIR", str(h.home / "config"))
    with pytest.raises(Exception, match="inside PAII_HOME .* set PAII_CONFIG_DIR to a folder outside it"):
        h.engine.approve(run.run_id, "1", via="test")
    assert not (h.home / "config").exists()
