"""The guard as a hook: the person's guard.toml, what it does on an internal error, input size and
nesting bounds, and input that is not a Bash call. Every test runs hooks/guard.py in its own
system-python3 process, as Claude Code does."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.hooks.conftest import HOOKS, decision_of, hook_json, run_hook


def guard(world, command, cwd=None, config_dir=None, env=None, raw=None, hooks_dir=HOOKS):
    e = world.env(env)
    if config_dir is not None:
        e["PAII_CONFIG_DIR"] = str(config_dir)
    payload = raw if raw is not None else hook_json(command, cwd or world.folders["proj"])
    rc, out, err = run_hook("guard.py", payload, e, hooks_dir=hooks_dir)
    return decision_of(rc, out, err) + (rc,)


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


# --- the person's settings ---------------------------------------------------------------------


def test_a_disabled_rule_no_longer_asks(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.toml", 'disable = ["terraform-destroy"]\n')
    assert guard(world, "terraform destroy")[0] == "ask"
    assert guard(world, "terraform destroy", config_dir=cfg)[0] == "allow"
    assert guard(world, "helm uninstall api", config_dir=cfg)[0] == "ask"  # other rules still apply


def test_an_allowed_command_runs_only_as_written(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.toml", 'allow = ["rm -rf /var/lib/myapp/cache"]\n')
    assert guard(world, "rm -rf /var/lib/myapp/cache", config_dir=cfg)[0] == "allow"
    assert guard(world, "  rm -rf /var/lib/myapp/cache  ", config_dir=cfg)[0] == "allow"
    assert guard(world, "rm -rf /var/lib/myapp/cache /var/lib/other", config_dir=cfg)[0] == "ask"
    assert guard(world, "rm -rf /var/lib/myapp/cache; rm -rf /", config_dir=cfg)[0] == "block"


def test_own_rules_ask_or_block_with_their_reason(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.toml", """
[[rules]]
id = "prod-db"
decision = "ask"
command = "psql"
pattern = "prod-db\\\\.internal"
reason = "psql against the production database"

[[rules]]
id = "no-npm-publish"
decision = "block"
pattern = "^npm publish"
reason = "publishing packages is done by CI"
""")
    decision, reason, _ = guard(world, "psql -h prod-db.internal -c 'select 1'", config_dir=cfg)
    assert decision == "ask" and "psql against the production database" in reason and "[rule prod-db]" in reason
    assert guard(world, "psql -h staging-db.internal -c 'select 1'", config_dir=cfg)[0] == "allow"
    decision, reason, rc = guard(world, "sudo npm publish --access public", config_dir=cfg)
    assert (decision, rc) == ("block", 2) and "publishing packages is done by CI" in reason
    assert guard(world, "echo npm publish", config_dir=cfg)[0] == "allow"  # echo's words are data


def test_production_words_and_protected_branches_are_the_persons(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.toml", 'production = ["kind"]\nprotected_branches = ["release/*"]\n')
    assert guard(world, "kubectl delete pod api-0")[0] == "allow"  # context kind-dev
    assert guard(world, "kubectl delete pod api-0", config_dir=cfg)[0] == "ask"
    assert guard(world, "git push -f origin release/2.1", config_dir=cfg)[0] == "block"
    assert guard(world, "git push -f origin main", config_dir=cfg)[0] == "allow"


def test_guard_json_works_like_guard_toml(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.json", json.dumps({"disable": ["git-discard"]}))
    assert guard(world, "git reset --hard", config_dir=cfg)[0] == "allow"


@pytest.mark.parametrize("text, mistake", [
    ('disable = ["paii-approve"]\n', "cannot be turned off"),
    ('disable = ["no-such-rule"]\n', "no built-in rule no-such-rule"),
    ("disable = [\n", "not valid TOML"),
    ('colour = "red"\n', "unknown setting colour"),
    ('[[rules]]\nid = "x"\ndecision = "maybe"\npattern = "a"\nreason = "b"\n', "decision must be"),
    ('[[rules]]\nid = "x"\ndecision = "ask"\npattern = "("\nreason = "b"\n', "not a valid regular expression"),
], ids=["locked", "unknown-rule", "bad-toml", "unknown-key", "bad-decision", "bad-regex"])
def test_settings_with_a_mistake_are_ignored_and_the_built_in_rules_apply(world, tmp_path, text, mistake):
    cfg = write(tmp_path / "cfg", "guard.toml", 'allow = ["git reset --hard"]\n' + text)
    decision, reason, rc = guard(world, "git reset --hard", config_dir=cfg)
    assert decision == "ask" and "Your guard settings were ignored" in reason and mistake in reason
    decision, reason, rc = guard(world, "paii runbook approve r1 s1", config_dir=cfg)
    assert (decision, rc) == ("block", 2)


def test_the_runbook_approval_rule_cannot_be_allowed(world, tmp_path):
    cfg = write(tmp_path / "cfg", "guard.toml", 'allow = ["paii runbook approve r1 s1"]\n')
    decision, reason, rc = guard(world, "paii runbook approve r1 s1", config_dir=cfg)
    assert (decision, rc) == ("block", 2)
    assert "disable = " not in reason  # a locked rule is not offered to be turned off


def test_a_block_says_why_names_the_rule_and_how_the_person_can_allow_it(world):
    decision, reason, rc = guard(world, "sudo rm -rf --no-preserve-root /")
    assert (decision, rc) == ("block", 2)
    assert "deletes the whole filesystem [rule rm-root]" in reason
    assert "guard.toml" in reason and 'disable = ["rm-root"]' in reason and "Do not run it another way" in reason


# --- never crash the session -------------------------------------------------------------------


@pytest.fixture
def broken_hooks(tmp_path):
    """A copy of hooks/ whose analyser fails on every command."""
    copy = tmp_path / "hooks"
    shutil.copytree(HOOKS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "paii_hooks" / "analyse.py").write_text("def check(*args, **kwargs):\n    raise RuntimeError('boom')\n")
    return copy


def test_an_internal_error_asks_for_a_dangerous_command_and_is_logged(world, broken_hooks, tmp_path):
    data = tmp_path / "data"
    decision, reason, rc = guard(world, "rm -rf /", hooks_dir=broken_hooks, env={"PAII_HOME": str(data)})
    assert (decision, rc) == ("ask", 0)
    assert "internal error: RuntimeError" in reason and "'rm'" in reason
    log = (data / "logs" / "hooks.log").read_text()
    assert "RuntimeError: boom" in log and "rm -rf" not in log  # the log holds no command text


def test_an_internal_error_lets_a_harmless_command_run(world, broken_hooks):
    assert guard(world, "ls -la", hooks_dir=broken_hooks)[0] == "allow"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"tool_name": "Bash"}',
                                 b'{"tool_name": "Bash", "tool_input": {"command": 42}}',
                                 b'{"tool_name": "Read", "tool_input": {"file_path": "/etc/passwd"}}',
                                 b'{"tool_name": "Bash", "tool_input": "rm -rf /"}', b"\xff\xfe"])
def test_input_that_is_not_a_bash_call_passes_silently(world, raw):
    assert guard(world, None, raw=raw) == ("allow", "", 0)


# --- bounded work ------------------------------------------------------------------------------


def test_a_command_too_long_to_read_is_asked_about_even_without_dangerous_words(world):
    padded = "echo " + "x" * 120_000 + "; a=r; b=m; $a$b -f notes"
    decision, reason, _ = guard(world, padded)
    assert decision == "ask" and "could not check all of this command" in reason


def test_a_long_harmless_command_within_the_limit_is_allowed(world):
    assert guard(world, "echo " + "word " * 15_000)[0] == "allow"


def test_nesting_deeper_than_the_limit_is_asked_about(world):
    command = "true"
    for _ in range(12):
        command = "bash -c %s" % json.dumps(command)
    decision, reason, _ = guard(world, command)
    assert decision == "ask" and "nested more than" in reason


def test_hook_input_over_the_limit_is_asked_about(world):
    raw = json.dumps(hook_json("echo " + "x" * (4 * 1024 * 1024), "/tmp")).encode()
    decision, reason, _ = guard(world, None, raw=raw)
    assert decision == "ask" and "over 4 MB" in reason


@pytest.mark.parametrize("name, text", [
    ("unclosed substitutions", "$(" * 20_000),
    ("quotes", "'" * 90_001),
    ("function definitions", "a(){ a|" * 10_000),
    ("dollars", "psql -c " + "$" * 60_000),
    ("braces", "echo " + "{a,b}" * 200),
    ("variables doubling", "X=ab; " + "X=$X$X; " * 40 + "$X"),
    ("sql comments", "psql -c '" + "/*" * 30_000 + "'"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_hostile_input_gets_an_answer_without_crashing(world, name, text):
    decision, reason, rc = guard(world, text)
    assert decision in ("allow", "ask"), (decision, reason[:300])
