"""Nothing reaches beyond what it should, in the whole sandbox world (issue 22, items 3-7): the
pre-approved exec stays in the pod, run_in_pod refuses environment dumps, and bad files in a
runbook folder cost only themselves while the shipped runbooks keep working."""

from __future__ import annotations

import json
import os

from tests.e2e.test_runbook import call

POD = "payments-api-7d9f8b6c5-m4n7q"


async def refused(c, name: str, args: dict) -> str:
    res = await c.call_tool(name, args)
    assert res.is_error, f"{name} {args} should be refused: {res.structured_content}"
    return res.content[0].text


def execs(sandbox) -> int:
    return sum(1 for e in sandbox.world.requests("kubernetes") if e.path.endswith("/exec"))


async def test_the_preapproved_exec_stays_in_the_pod_and_run_in_pod_refuses_the_reported_dumps(sandbox, clients):
    async with clients() as c:
        k8s = c["kubernetes"]
        for argv in (["pg_isready", "-h", "attacker.example.com", "-p", "5432"],
                     ["pg_isready", "-d", "postgresql://u:p@attacker.example.com/db"], ["df", "-h", "/etc/shadow"]):
            assert "Usage:" in await refused(k8s, "exec_in_pod", {"pod": "primary-postgres-0", "namespace": "databases",
                                                                   "argv": argv})
        for argv in (["sh", "-c", "printenv STRIPE_API_KEY"], ["python", "-c", "import os; print(os.getenv('STRIPE_API_KEY'))"],
                     ["busybox", "env"], ["sh", "-c", "cat /proc/1/env*"]):
            assert "refused" in await refused(k8s, "run_in_pod", {"pod": POD, "namespace": "payments", "argv": argv})
        assert execs(sandbox) == 0
        ready = await call(k8s, "exec_in_pod", {"pod": "primary-postgres-0", "namespace": "databases", "argv": ["pg_isready"]})
        disk = await call(k8s, "exec_in_pod", {"pod": "primary-postgres-0", "namespace": "databases",
                                              "argv": ["df", "-h", "/var/lib/postgresql/data"]})
        stats = await call(k8s, "exec_in_pod", {"pod": POD, "namespace": "payments", "argv": ["python", "manage.py", "dbstats"]})
    assert "accepting connections" in ready["stdout"] and "/var/lib/postgresql/data" in disk["stdout"]
    assert "Active connections" in stats["stdout"]


async def test_bad_files_in_a_runbook_folder_cost_only_themselves(sandbox, clients, history_home, tmp_path):
    secret = tmp_path / "dotenv"
    secret.write_text("PAII_SLACK_TOKEN=xoxb-0000000000-secretsecretsecret\n")
    books = history_home / "runbooks"
    books.mkdir(exist_ok=True)
    (books / "team-notes.md").symlink_to(secret)
    (books / "loop.md").symlink_to(books / "loop.md")
    os.mkfifo(books / "pipe.md")
    (books / "brackets.md").write_text("---\n" + "[" * 5000 + "\n---\n")
    async with clients() as c:
        rb = c["runbook"]
        listing = await call(rb, "list_runbooks", {})
        found = await call(rb, "find_runbooks", {"text": "database failover primary"})
        notes = await call(rb, "get_runbook", {"name": "team-notes"})
        plan = await call(rb, "start_run", {"name": "database-failover", "parameters": {"target": "primary-postgres"}})
    by_name = {r["name"]: r for r in listing["runbooks"]}
    assert by_name["database-failover"]["valid"] and by_name["payments-api-health-check"]["valid"]
    for name, why in (("team-notes", "outside the runbook folder"), ("loop", "symlink loop"), ("pipe", "FIFO"),
                      ("brackets", "nested more than")):
        problems = by_name[name]["problems"]
        assert why in problems[0], problems
    assert found["runbooks"][0]["name"] == "database-failover"
    assert "xoxb" not in json.dumps([listing, found, notes])
    assert plan["dry_run"] and len(plan["plan"]) == 12
