"""The sandbox Kubernetes service: its responses validate against the published spec (core/v1 in
swagger-core-v1.json, apps/v1 in swagger.json), it is stateful and deterministic under a fixed clock,
and env() writes a kubeconfig the real client loads."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paii_sandbox.services import kubernetes as service

SPECS = Path(os.environ.get("SHARED", Path(__file__).resolve().parents[3] / "shared")) / "api-mocks" / "kubernetes"
NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
POD = "payments-api-7d9f8b6c5-x2k9p"


@cache
def definitions(name: str) -> dict:
    path = SPECS / name
    if not path.is_file():
        pytest.skip(f"{path} not found (set SHARED=...)")
    return json.loads(path.read_text())["definitions"]


def validate(body: dict, definition: str, spec: str = "swagger-core-v1.json") -> None:
    import jsonschema

    defs = definitions(spec)
    schema = {"$ref": f"#/definitions/{definition}", "definitions": defs}
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture
def api():
    world = service.FixedWorld(NOW)
    data = service.load_seed()
    app = service.create_app(service.seed(data, NOW), world)
    with TestClient(app, headers={"Authorization": f"Bearer {data['token']}"}) as client:
        yield client


def test_pod_list_pod_and_events_validate_against_the_core_v1_spec(api):
    pods = api.get("/api/v1/namespaces/payments/pods", params={"labelSelector": "app=payments-api"}).json()
    validate(pods, "io.k8s.api.core.v1.PodList")
    assert len(pods["items"]) == 3
    validate(api.get(f"/api/v1/namespaces/payments/pods/{POD}").json(), "io.k8s.api.core.v1.Pod")
    validate(api.get("/api/v1/namespaces/databases/pods/primary-postgres-0").json(), "io.k8s.api.core.v1.Pod")
    events = api.get("/api/v1/namespaces/payments/events", params={"fieldSelector": f"involvedObject.name={POD}"}).json()
    validate(events, "io.k8s.api.core.v1.EventList")
    assert {e["involvedObject"]["name"] for e in events["items"]} == {POD}


def test_errors_are_status_objects(api):
    missing = api.get("/api/v1/namespaces/payments/pods/nope")
    assert missing.status_code == 404
    validate(missing.json(), "io.k8s.apimachinery.pkg.apis.meta.v1.Status")
    unauthorized = api.get("/api/v1/namespaces/payments/pods", headers={"Authorization": "Bearer wrong"})
    assert unauthorized.status_code == 401 and unauthorized.json()["reason"] == "Unauthorized"
    bad = api.get("/api/v1/namespaces/payments/events", params={"fieldSelector": "spec.secret=x"})
    assert bad.status_code == 400
    body, ctype = service.error_body(503)
    validate(body, "io.k8s.apimachinery.pkg.apis.meta.v1.Status")


def test_deployment_and_replica_sets_validate_against_the_apps_v1_spec(api):
    dep = api.get("/apis/apps/v1/namespaces/payments/deployments/payments-api").json()
    validate(dep, "io.k8s.api.apps.v1.Deployment", "swagger.json")
    rs = api.get("/apis/apps/v1/namespaces/payments/replicasets", params={"labelSelector": "app=payments-api"}).json()
    validate(rs, "io.k8s.api.apps.v1.ReplicaSetList", "swagger.json")
    assert sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs["items"]) == ["1", "2", "3"]


def test_logs_follow_tail_since_and_previous(api):
    text = api.get(f"/api/v1/namespaces/payments/pods/{POD}/log", params={"tailLines": 2}).text
    assert text.splitlines()[-1] == "2026-01-02T01:59:50Z WARN  db pool: 98/100 connections in use, 47 waiting"
    assert len(text.splitlines()) == 2
    prev = api.get(f"/api/v1/namespaces/payments/pods/{POD}/log", params={"previous": "true"}).text
    assert "killed after liveness probe failures" in prev
    none = api.get("/api/v1/namespaces/payments/pods/payments-api-7d9f8b6c5-m4n7q/log", params={"previous": "true"})
    assert none.status_code == 400


def test_a_restart_rolls_out_one_pod_per_read_and_a_scale_and_a_delete_change_the_pods(api):
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-02T02:00:00Z"}}}}}
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    dep = api.patch("/apis/apps/v1/namespaces/payments/deployments/payments-api", json=patch, headers=headers).json()
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    updated = [api.get("/apis/apps/v1/namespaces/payments/deployments/payments-api").json()["status"]["updatedReplicas"]
               for _ in range(4)]
    assert updated == [1, 2, 3, 3]
    pods = api.get("/api/v1/namespaces/payments/pods").json()["items"]
    assert POD not in {p["metadata"]["name"] for p in pods}
    assert {p["status"]["containerStatuses"][0]["restartCount"] for p in pods} == {0}
    api.patch("/apis/apps/v1/namespaces/payments/deployments/payments-api", json={"spec": {"replicas": 5}}, headers=headers)
    assert len(api.get("/api/v1/namespaces/payments/pods").json()["items"]) == 5
    victim = pods[0]["metadata"]["name"]
    assert api.delete(f"/api/v1/namespaces/payments/pods/{victim}").status_code == 200
    after = {p["metadata"]["name"] for p in api.get("/api/v1/namespaces/payments/pods").json()["items"]}
    assert victim not in after and len(after) == 5


def test_the_seed_is_deterministic_under_a_fixed_clock():
    data = service.load_seed()
    a = TestClient(service.create_app(service.seed(data, NOW), service.FixedWorld(NOW)),
                   headers={"Authorization": f"Bearer {data['token']}"})
    b = TestClient(service.create_app(service.seed(service.load_seed(), NOW), service.FixedWorld(NOW)),
                   headers={"Authorization": f"Bearer {data['token']}"})
    for path in ("/api/v1/namespaces/payments/pods", "/api/v1/namespaces/payments/events",
                 "/apis/apps/v1/namespaces/payments/deployments/payments-api"):
        assert a.get(path).json() == b.get(path).json()


def test_env_writes_a_private_kubeconfig_the_client_loads(tmp_path):
    from kubernetes import config

    env = service.env("http://127.0.0.1:1", tmp_path)
    path = Path(env["PAII_KUBERNETES_KUBECONFIG"])
    assert path.stat().st_mode & 0o077 == 0
    contexts, active = config.list_kube_config_contexts(config_file=str(path))
    assert active["name"] == "paii-sandbox" and active["context"]["namespace"] == "payments"


def test_dump_shows_pods_and_deployments():
    state = service.seed(service.load_seed(), NOW)
    out = service.dump(state)
    assert out["payments"]["deployments"]["payments-api"] == {"replicas": 3, "revision": 3, "rollout_pending": 0}
    assert {p["name"] for p in out["databases"]["pods"]} == {"primary-postgres-0", "replica-postgres-0"}


def test_env_without_a_sandbox_folder_writes_nothing_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = service.env("http://127.0.0.1:1", Path("."))
    assert not (tmp_path / "kubeconfig").exists() and Path(env["PAII_KUBERNETES_KUBECONFIG"]).is_file()
