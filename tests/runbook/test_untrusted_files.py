"""Runbook files from someone else's repository cannot hurt: through the real MCP client.

Each test names the failure it guards against (issue 22, items 5-7): a YAML alias bomb that grew
the server to 15 GB, a symlink that handed ~/.config/paii/.env to the model, and one bad file
(a symlink loop, 5,000 '[', a FIFO, a 54 MB file) that broke or blocked every runbook.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from paii_common.untrusted import unmark
from tests.runbook.test_engine import FRONT, step
from tests.runbook.test_server import call, server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-1234567890-abcdefghijklmnop"
GOOD = FRONT + step(1, "run: [echo, hello]\ntimeout: 5")

#: ten levels of ten aliases under expect: (10^10 strings once expanded); 600 bytes on disk
BOMB = FRONT + "## Step 1: Boom\n```yaml\nrun: [echo, hi]\ntimeout: 5\nexpect:\n" + "".join(
    f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10) if n else ', '.join(['x'] * 10)}]\n" for n in range(10)
) + "  regex: *l9\n```\n"


def problems_of(listing: dict, name: str) -> list[str]:
    return next(r for r in listing["runbooks"] if r["name"] == name)["problems"]


async def test_a_yaml_alias_bomb_is_refused_before_it_expands_and_the_other_runbooks_still_list(h):
    """Was: a 627-byte step block grew the server to 15 GB and get_runbook/start_run never answered."""
    h.book("good", GOOD)
    h.book("bomb", BOMB)
    async with Client(server(h)) as c:
        listing = await call(c, "list_runbooks", {})
        shown = await call(c, "get_runbook", {"name": "bomb"})
        refused = await c.call_tool("start_run", {"name": "bomb"})
    assert len(BOMB.encode()) < 1000
    [problem] = problems_of(listing, "bomb")
    assert "anchor &l0 is not allowed" in problem and "bomb.md:" in problem
    assert problems_of(listing, "good") == []
    assert any("anchor" in p for p in shown["problems"])
    assert refused.is_error and "invalid and cannot start" in refused.content[0].text


@pytest.mark.parametrize("yaml_text,why", [
    ("run: [echo, hi]\ntimeout: 5\nexpect: {regex: *nowhere}", "alias *nowhere is not allowed"),
    ("run: &cmd [echo, hi]\ntimeout: 5", "anchor &cmd is not allowed"),
    ("run: [echo, hi]\ntimeout: 5\nexpect: " + "[" * 5000, "nested more than 32 levels"),
])
async def test_anchors_aliases_and_deep_nesting_are_one_problem_each(h, yaml_text, why):
    h.book("odd", FRONT + step(1, yaml_text))
    async with Client(server(h)) as c:
        [problem] = problems_of(await call(c, "list_runbooks", {}), "odd")
    assert why in problem


def test_the_alias_bomb_leaves_a_server_under_a_768_mb_memory_cap_answering(h):
    """The same bomb against the real stdio server in a process that may not grow past 768 MB: before
    the fix it ran out of memory or time (57.8 s for a "did not finish" error); now it answers at once."""
    import anyio

    h.book("bomb", BOMB)
    cap = 768 * 1024 * 1024
    code = (f"import resource, runpy; resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap})); "
            "runpy.run_module('paii_runbook', run_name='__main__')")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(h.home),
           "PAII_CONFIG_DIR": str(h.tmp / "cfg"), "PAII_RUNBOOK_PATH": str(h.books), "PAII_RUNBOOK_SHIPPED": "0",
           "PAII_HISTORY_EMBEDDINGS": "off", "PAII_READ_TIMEOUT": "20"}

    async def run() -> tuple[dict, dict]:
        async with Client(StdioServerParameters(command=sys.executable, args=["-c", code], env=env)) as c:
            return await call(c, "get_runbook", {"name": "bomb"}), await call(c, "list_runbooks", {})

    shown, listing = anyio.run(run)
    assert any("not allowed" in p for p in shown["problems"])
    assert "not allowed" in problems_of(listing, "bomb")[0]


async def test_a_symlink_out_of_the_runbook_folder_is_not_read(h, tmp_path):
    """Was: `ln -s ~/.config/paii/.env team-notes.md` then get_runbook team-notes returned the token."""
    secret = tmp_path / "dotenv"
    secret.write_text(f"---\ntitle: x\ndescription: y\n---\nPAII_SLACK_TOKEN={TOKEN}\n")
    (h.books / "team-notes.md").symlink_to(secret)
    h.book("good", GOOD)
    async with Client(server(h)) as c:
        shown = await call(c, "get_runbook", {"name": "team-notes"})
        listing = await call(c, "list_runbooks", {})
        found = await call(c, "find_runbooks", {"text": "slack token notes"})
    everything = json.dumps([shown, listing, found])
    assert TOKEN not in everything and "xoxb" not in everything
    assert "outside the runbook folder" in shown["problems"][0] and shown["steps"] == []
    assert "outside the runbook folder" in problems_of(listing, "team-notes")[0]


async def test_a_symlink_that_stays_inside_the_folder_is_followed(h):
    h.book("real-one", GOOD)
    (h.books / "alias-one.md").symlink_to(h.books / "real-one.md")
    async with Client(server(h)) as c:
        listing = await call(c, "list_runbooks", {})
    assert problems_of(listing, "alias-one") == [] and problems_of(listing, "real-one") == []


async def test_secrets_written_in_a_runbook_are_masked_in_what_the_model_reads(h):
    """Was: only errors were redacted; a token in a runbook's prose or description came back as written."""
    h.book("leaky", FRONT.replace("Steps for the engine tests.", f"Uses token {TOKEN}.")
           + f"## Step 1: Post\nThe bot token is {TOKEN}, the password=hunter2secret.\n"
           + f"```yaml\nrun: [echo, '{TOKEN}']\ntimeout: 5\n```\n")
    async with Client(server(h)) as c:
        everything = json.dumps([await call(c, "get_runbook", {"name": "leaky"}), await call(c, "list_runbooks", {}),
                                 await call(c, "find_runbooks", {"text": "token post"})])
    assert TOKEN not in everything and "hunter2secret" not in everything
    assert "[redacted]" in everything


async def test_a_symlink_loop_or_a_dangling_link_is_one_problem_and_every_other_runbook_still_works(h):
    """Was: a symlink loop made list_runbooks and find_runbooks fail for all ("internal error ... PAII bug")."""
    (h.books / "loop-a.md").symlink_to(h.books / "loop-b.md")
    (h.books / "loop-b.md").symlink_to(h.books / "loop-a.md")
    (h.books / "gone.md").symlink_to(h.books / "nothing-here.md")
    h.book("good", GOOD)
    async with Client(server(h)) as c:
        listing = await call(c, "list_runbooks", {})
        found = await call(c, "find_runbooks", {"text": "test book"})
    assert "symlink loop" in problems_of(listing, "loop-a")[0]
    assert "does not exist" in problems_of(listing, "gone")[0]
    assert [r["name"] for r in found["runbooks"]] == ["good"]


async def test_a_file_of_5000_brackets_is_one_problem_not_a_broken_list(h):
    """Was: 5,000 '[' in the frontmatter raised RecursionError and list_runbooks failed for all."""
    h.book("brackets", "---\n" + "[" * 5000 + "\n---\n")
    h.book("good", GOOD)
    async with Client(server(h)) as c:
        listing = await call(c, "list_runbooks", {})
        found = await call(c, "find_runbooks", {"text": "test book"})
    assert "nested more than" in problems_of(listing, "brackets")[0]
    assert [r["name"] for r in found["runbooks"]] == ["good"]


async def test_a_fifo_named_md_is_refused_without_blocking_a_thread(h):
    """Was: a FIFO named *.md blocked one thread per call forever (45 threads after 42 calls)."""
    os.mkfifo(h.books / "pipe.md")
    h.book("good", GOOD)
    async with Client(server(h, read_timeout=5)) as c:
        await call(c, "list_runbooks", {})
        before = threading.active_count()
        for _ in range(10):
            listing = await call(c, "list_runbooks", {})
            shown = await call(c, "get_runbook", {"name": "pipe"})
        after = threading.active_count()
    assert "FIFO" in problems_of(listing, "pipe")[0] and "FIFO" in shown["problems"][0]
    assert after <= before + 1


async def test_a_54_mb_runbook_is_refused_with_its_size_and_the_cap(h):
    """Was: a 54 MB runbook came back as a 110 MB answer."""
    with open(h.books / "huge.md", "wb") as f:
        f.write(GOOD.encode())
        f.truncate(54 * 1024 * 1024)  # sparse: no disk used, and never read
    async with Client(server(h)) as c:
        res = await c.call_tool("get_runbook", {"name": "huge"})
        listing = await call(c, "list_runbooks", {})
    assert not res.is_error
    problem = res.structured_content["problems"][0]
    assert "54.0 MB" in problem and "at most 128 KB" in problem and "PAII_RUNBOOK_MAX_FILE_KB" in problem
    assert len(json.dumps(res.structured_content)) < 4000
    assert "54.0 MB" in problems_of(listing, "huge")[0]


async def test_the_size_cap_is_a_setting(h):
    h.book("good", GOOD + "prose line\n" * 1000)
    async with Client(server(h, max_file_kb=4)) as c:
        [problem] = problems_of(await call(c, "list_runbooks", {}), "good")
    assert "at most 4 KB" in problem


async def test_a_heading_line_of_spaces_parses_in_linear_time(h):
    """A '## Step 1: x' line with 100,000 spaces took quadratic time in the heading pattern (minutes)."""
    h.book("wide", FRONT + "## Step 1: x" + " " * 50_000 + "y" + " " * 50_000 + "\n```yaml\nrun: [echo, hi]\ntimeout: 5\n```\n")
    async with Client(server(h)) as c:
        shown = await call(c, "get_runbook", {"name": "wide"})
    assert unmark(shown["steps"][0]["title"]).startswith("x") and unmark(shown["steps"][0]["title"]).endswith("y")


async def test_too_much_yaml_in_one_runbook_is_refused_with_where(h):
    many = "".join(step(n, "run: [echo, '" + "a" * 20_000 + "']\ntimeout: 5\napproval: none\nreason: t") for n in range(1, 5))
    h.book("verbose", FRONT + many)
    async with Client(server(h)) as c:
        shown = await call(c, "get_runbook", {"name": "verbose"})
    assert any("passes 64 KB at step 4's yaml block" in p for p in shown["problems"])


@pytest.mark.parametrize("where,text", [
    ("parameter", "parameters:\n  target: {description: host, pattern: '^(a+)+$', default: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!}\n"),
    ("expect", None),
])
async def test_a_regex_that_backtracks_exponentially_is_refused_before_it_runs(h, where, text):
    """re holds the whole server while it matches: '^(a+)+$' against 36 a's and a '!' takes hours."""
    if where == "parameter":
        h.book("redos", FRONT.replace("parameters:\n  name: {description: any printable text, pattern: '^[ -~]+$', "
                                      "default: world}\n", text) + step(1, "run: [echo, hi]\ntimeout: 5"))
    else:
        h.book("redos", FRONT + step(1, "run: [echo, hi]\ntimeout: 5\nexpect: {regex: '(\\w+\\s?)*$'}"))
    async with Client(server(h)) as c:
        shown = await call(c, "get_runbook", {"name": "redos"})
    assert any("exponential time" in p for p in shown["problems"]), shown["problems"]


async def test_a_parse_that_runs_past_its_deadline_stops_by_itself(h, monkeypatch):
    """The bound behind the caps: the YAML loader checks the deadline before every token, so no parse
    is left running in a thread nobody can stop."""
    from paii_runbook import yamlsafe

    monkeypatch.setattr(yamlsafe, "PARSE_SECONDS", 0.0)
    h.book("slow", GOOD)
    async with Client(server(h)) as c:
        shown = await call(c, "get_runbook", {"name": "slow"})
    assert any("took over 0 s and was stopped" in p for p in shown["problems"])


async def test_a_listing_stops_parsing_after_its_time_and_the_next_one_goes_on(h, monkeypatch):
    from paii_runbook import catalog

    for n in range(3):
        h.book(f"book-{n}", GOOD)
    monkeypatch.setattr(catalog, "LIST_SECONDS", 0.0)
    async with Client(server(h)) as c:
        first = await call(c, "list_runbooks", {})
        waiting = [r["name"] for r in first["runbooks"] if r["problems"] and "not read yet" in r["problems"][0]]
        assert waiting == ["book-1", "book-2"]  # the first file is always read
        for _ in range(2):
            await call(c, "list_runbooks", {})
        last = await call(c, "list_runbooks", {})
    assert all(r["valid"] for r in last["runbooks"])
