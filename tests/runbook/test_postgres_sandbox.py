"""The sandbox's Postgres pair (servers/paii_sandbox/services/postgres.py), tested through its app."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from paii_sandbox.services import postgres
from tests.runbook.fakes import World

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {postgres.TOKEN}"}


@pytest.fixture
def pg():
    data = yaml.safe_load((ROOT / "servers/paii_sandbox/seed.yaml").read_text())["postgres"]
    state = postgres.seed(data, World().now())
    return state, TestClient(postgres.create_app(state, World()))


def psql(client, *argv, tool="psql"):
    r = client.post(f"/v1/{tool}", json={"argv": list(argv)}, headers=AUTH)
    body = r.json()
    return body["stdout"], body["stderr"], body["exit_code"]


def test_the_module_follows_the_sandbox_service_interface():
    assert postgres.NAME == "postgres" and postgres.PORT_OFFSET == 4
    for attr in ("seed", "create_app", "env", "dump", "error_body"):
        assert callable(getattr(postgres, attr))


def test_active_transactions_drain_over_successive_polls_once_read_only_is_on(pg):
    state, c = pg
    q = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state <> 'idle'"
    assert [psql(c, "-h", "primary-postgres", "-At", "-c", q)[0] for _ in range(2)] == ["12\n", "12\n"]
    out, err, code = psql(c, "-X", "-h", "primary-postgres", "-c", "ALTER SYSTEM SET default_transaction_read_only = on;",
                          "-c", "SELECT pg_reload_conf();")
    assert code == 0 and out.startswith("ALTER SYSTEM\n pg_reload_conf \n----------------\n t")
    assert [psql(c, "-Atc", q, "-h", "primary-postgres")[0].strip() for _ in range(5)] == ["12", "8", "3", "0", "0"]


def test_pg_promote_turns_the_replica_into_a_primary_and_refuses_on_a_primary(pg):
    state, c = pg
    assert psql(c, "-h", "replica-postgres-01", "-At", "-c", "SELECT pg_is_in_recovery()")[0] == "t\n"
    out, err, code = psql(c, "-h", "primary-postgres", "-At", "-c", "SELECT pg_promote(true, 60)")
    assert code == 1 and err.startswith("ERROR:  recovery is not in progress")
    assert psql(c, "--host=replica-postgres-01", "-At", "--command=SELECT pg_promote(wait => true, wait_seconds => 60)")[0] == "t\n"
    assert state.servers["replica-postgres-01"].role == "primary"


def test_unknown_sql_hosts_and_tokens_fail_like_psql(pg):
    _, c = pg
    out, err, code = psql(c, "-h", "primary-postgres", "-c", "DROP TABLE ledger")
    assert code == 1 and "does not know this statement: DROP TABLE ledger" in err
    assert psql(c, "-h", "nowhere", "-c", "SELECT 1")[2] == 2
    assert psql(c, "-h", "primary-postgres")[1].startswith("psql: error: the sandbox psql runs -c commands only")
    r = c.post("/v1/psql", json={"argv": ["-h", "primary-postgres", "-c", "SELECT 1"]}, headers={"Authorization": "Bearer x"})
    assert r.status_code == 401 and r.json()["exit_code"] == 2


def test_kubectl_moves_the_endpoint_and_refuses_anything_else(pg):
    state, c = pg
    patch = '{"spec":{"externalName":"replica-postgres-01"}}'
    assert psql(c, "--namespace", "payments", "patch", "service", "postgres-primary", "--type", "merge", "--patch", patch,
                tool="kubectl") == ("service/postgres-primary patched\n", "", 0)
    assert state.endpoints["payments/postgres-primary"] == "replica-postgres-01"
    assert psql(c, "-n", "payments", "get", "service", "postgres-primary", tool="kubectl")[0] == "replica-postgres-01\n"
    assert psql(c, "delete", "pod", "x", tool="kubectl")[2] == 1
    assert "NotFound" in psql(c, "-n", "default", "get", "svc", "postgres-primary", tool="kubectl")[1]


def test_terminated_connections_reconnect_through_the_endpoint(pg):
    state, c = pg
    state.endpoints["payments/postgres-primary"] = "replica-postgres-01"
    q = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    assert psql(c, "-h", "primary-postgres", "-At", "-c", q)[0] == "234\n"
    assert (state.servers["primary-postgres"].connections, state.servers["replica-postgres-01"].connections) == (0, 234)


def test_the_env_writes_shims_that_forward_to_the_service(postgres):  # the fixture: served on a real port
    import subprocess

    bin_dir = Path(postgres.env["PAII_RUNBOOK_BIN_DIRS"])
    out = subprocess.run([str(bin_dir / "psql"), "-h", "primary-postgres", "-At", "-c", "SHOW default_transaction_read_only"],
                         capture_output=True, text=True, timeout=30)
    assert (out.returncode, out.stdout) == (0, "off\n")
    bad = subprocess.run([str(bin_dir / "psql"), "-h", "primary-postgres", "-c", "VACUUM"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 1 and bad.stderr.startswith("ERROR:  the sandbox Postgres does not know")


def test_text_from_the_database_comes_back_fenced_as_data(h, postgres):
    """The seed's activity holds a prompt injection; through run_step it is command output, fenced."""
    settings = h.settings.model_copy(update={"bin_dirs": postgres.env["PAII_RUNBOOK_BIN_DIRS"]})
    from paii_runbook.engine import Engine
    from tests.runbook.fakes import FastExecutor

    engine = Engine(settings, FastExecutor(settings))
    h.book("look", "---\ntitle: Look\ndescription: What is running.\n---\n## Step 1: Active queries\n```yaml\n"
                   "run: [psql, -h, primary-postgres, -c, \"SELECT pid, usename, state, left(query, 60) FROM pg_stat_activity "
                   "WHERE state <> 'idle' AND pid <> pg_backend_pid()\"]\ntimeout: 10\n```\n")
    run = engine.start("look", {}, dry_run=False)
    res = engine.run_step(run.run_id, "1")
    assert res.output.startswith("<<untrusted command output>>\n") and res.output.endswith("\n<<end untrusted>>")
    assert "SYSTEM NOTE TO THE AI" in res.output


def test_the_shims_never_land_in_the_working_directory(tmp_path, monkeypatch):
    """A runner without a folder passes "." (in the tests: the checkout, whose bin/ holds the launcher)."""
    monkeypatch.chdir(tmp_path)
    env = postgres.env("http://127.0.0.1:59999", Path("."))
    assert not (tmp_path / "bin").exists()
    assert Path(env["PAII_RUNBOOK_BIN_DIRS"]).is_absolute() and (Path(env["PAII_RUNBOOK_BIN_DIRS"]) / "psql").exists()
