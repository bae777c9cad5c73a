"""k8s_exec steps through the Kubernetes client API (a fake of paii_kubernetes.client.KubernetesClient)."""

from __future__ import annotations

from paii_runbook.config import RunbookSettings
from paii_runbook.engine import Engine
from tests.runbook.fakes import FastExecutor
from tests.runbook.test_engine import FRONT, step


def test_the_health_check_runs_in_the_first_ready_pod_and_flags_the_exhausted_pool(h, isolated_env):
    h.k8s.answers[("grep", "-c", "-E", '" 50[0-9] ', "/var/log/payments-api/access.log")] = ("3\n", 0)
    settings = RunbookSettings.load(home=isolated_env, operator="alice")
    engine = Engine(settings, FastExecutor(settings, h.k8s))
    run = engine.start("payments-api-health-check", {}, dry_run=False)
    results = [engine.run_step(run.run_id, sid) for sid in ("1", "2", "3", "4", "5")]
    assert [r.status for r in results] == ["passed", "passed", "passed", "passed", "failed"]
    assert [r.value for r in results[1:4]] == ["0.42", "301232", "42"]
    assert results[4].value == "98" and results[4].reason == "98 does not meet output matches /Active connections: (\\d+)// < 90"
    assert "Waiting queries: 47" in results[4].output and results[4].pod == "payments-api-7d9f-abcde"
    assert engine.run_step(run.run_id, "5", "skip").status == "skipped"
    assert engine.run_step(run.run_id, "6").value == "3"
    assert [c[1:] for c in h.k8s.calls][:2] == [("payments-api-7d9f-abcde", ["python", "manage.py", "showmigrations"]),
                                                ("payments-api-7d9f-abcde", ["cat", "/proc/loadavg"])]
    engine.finish(run.run_id, "failed", "pool at 98/100: the pattern of INC-456")
    assert "98 does not meet" in engine.history.store().get(run.run_id).body


def test_an_unapplied_migration_fails_the_health_check(h, isolated_env):
    h.k8s.answers[("python", "manage.py", "showmigrations")] = ("payments\n [X] 0041_refund_reason\n [ ] 0042_settlement_batch\n", 0)
    settings = RunbookSettings.load(home=isolated_env, operator="alice")
    engine = Engine(settings, FastExecutor(settings, h.k8s))
    run = engine.start("payments-api-health-check", {}, dry_run=False)
    assert engine.run_step(run.run_id, "1").status == "failed"


def test_a_changing_command_in_a_protected_namespace_is_refused_and_a_read_is_not(h):
    h.k8s.pods["kube-system"] = ["coredns-1"]
    h.k8s.answers[("cat", "/proc/loadavg")] = ("0.1 0.1 0.1 1/1 1\n", 0)
    h.book("sys", FRONT + step(1, "k8s_exec: {namespace: kube-system, selector: k8s-app=kube-dns, argv: [cat, /proc/loadavg]}")
           + step(2, "k8s_exec: {namespace: kube-system, selector: k8s-app=kube-dns, argv: [kill, '1']}\napproval: required"))
    run = h.engine.start("sys", {}, dry_run=False)
    assert h.engine.run_step(run.run_id, "1").status == "passed"
    h.engine.approve(run.run_id, "2", via="test")
    res = h.engine.run_step(run.run_id, "2")
    assert res.status == "failed" and "protected namespace" in res.reason
    assert [c[2] for c in h.k8s.calls] == [["cat", "/proc/loadavg"]]  # the kill never reached the cluster


def test_no_matching_pod_fails_the_step_with_a_reason(h):
    h.book("none", FRONT + step(1, "k8s_exec: {namespace: empty, selector: app=nothing, argv: [date]}"))
    run = h.engine.start("none", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "failed" and res.reason.startswith("no running pod matches app=nothing in empty")


def test_without_a_cluster_client_a_k8s_step_fails_instead_of_raising(h):
    h.book("none", FRONT + step(1, "k8s_exec: {namespace: payments, selector: app=payments-api, argv: [date]}"))
    from paii_runbook.client import StepExecutor

    engine = Engine(h.settings, StepExecutor(h.settings))  # the real client: paii_kubernetes, no kubeconfig here
    run = engine.start("none", {}, dry_run=False)
    res = engine.run_step(run.run_id, "1")
    assert res.status == "failed" and res.reason
