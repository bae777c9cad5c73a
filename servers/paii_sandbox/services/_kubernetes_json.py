"""The sandbox Kubernetes state as the API's JSON (core/v1 Pod, Event, Status; apps/v1 Deployment,
ReplicaSet): the shapes the published spec defines, checked by tests/kubernetes/test_sandbox_service.py."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from paii_sandbox.services._kubernetes_state import Dep, Pod, State, dep_counts, suffix, ts, uid
def pod_json(p: Pod) -> dict[str, Any]:
    env = [{"name": e["name"], "valueFrom": {"secretKeyRef": {"name": e["secret"], "key": e["key"]}}} if "secret" in e
           else {"name": e["name"], "value": str(e["value"])} for e in p.env]
    kind, _, owner = p.owner.partition("/")
    cstate: dict[str, Any] = {"running": {"startedAt": ts(p.started or p.created)}}
    status = "True" if p.ready else "False"
    container: dict[str, Any] = {"name": p.container, "image": p.image, "ports": [{"containerPort": p.port, "protocol": "TCP"}],
                                 "env": env, "resources": p.resources, "imagePullPolicy": "IfNotPresent"}
    if p.secret_volume:
        container["volumeMounts"] = [{"name": "tls", "mountPath": "/etc/tls", "readOnly": True}]
    out = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.namespace, "uid": uid(p.namespace + p.name + ts(p.created)),
                     "labels": p.labels, "creationTimestamp": ts(p.created), "resourceVersion": "1",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": uid(owner),
                                          "controller": True, "blockOwnerDeletion": True}] if owner else []},
        "spec": {"containers": [container], "nodeName": p.node, "restartPolicy": "Always",
                 "serviceAccountName": "default",
                 "volumes": [{"name": "tls", "secret": {"secretName": p.secret_volume}}] if p.secret_volume else []},
        "status": {
            "phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.42.{len(p.node)}.{sum(map(ord, p.name)) % 250}",
            "startTime": ts(p.created), "qosClass": "Burstable",
            "conditions": [{"type": t, "status": s, "lastTransitionTime": ts(p.started or p.created)} for t, s in
                           (("Initialized", "True"), ("Ready", status), ("ContainersReady", status), ("PodScheduled", "True"))],
            "containerStatuses": [{"name": p.container, "image": p.image, "imageID": f"{p.image}@sha256:{suffix(p.image, 8)}",
                                   "ready": p.ready, "restartCount": p.restarts, "started": True, "state": cstate,
                                   "lastState": {"terminated": p.last_termination} if p.last_termination else {},
                                   "containerID": f"containerd://{hashlib.sha256(p.name.encode()).hexdigest()}"}],
        },
    }
    return out


def template_json(dep: Dep, rev: dict[str, Any]) -> dict[str, Any]:
    d = dep.spec
    ann = {"kubectl.kubernetes.io/restartedAt": rev["restarted_at"]} if rev.get("restarted_at") else {}
    return {"metadata": {"labels": d["labels"], **({"annotations": ann} if ann else {})},
            "spec": {"containers": [{"name": d["container"], "image": rev["image"],
                                     "ports": [{"containerPort": int(d.get("port", 8000)), "protocol": "TCP"}]}]}}


def deployment_json(st: State, dep: Dep) -> dict[str, Any]:
    pods, updated = dep_counts(st, dep)
    ready = [p for p in pods if p.ready]
    done = dep.pending == 0 and len(updated) >= dep.replicas and len(pods) == len(updated)
    now = ts(st.now)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": dep.name, "namespace": dep.namespace, "uid": uid(f"{dep.namespace}/{dep.name}"),
                     "generation": dep.generation, "creationTimestamp": ts(dep.created), "labels": dep.spec["labels"],
                     "annotations": {"deployment.kubernetes.io/revision": str(dep.revisions[-1]["revision"])}},
        "spec": {"replicas": dep.replicas, "selector": {"matchLabels": {"app": dep.spec["labels"]["app"]}},
                 "template": template_json(dep, dep.revisions[-1]), "progressDeadlineSeconds": 600,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
        "status": {
            "observedGeneration": dep.generation, "replicas": len(pods), "updatedReplicas": len(updated),
            "readyReplicas": len(ready), "availableReplicas": len(ready), "unavailableReplicas": max(0, dep.replicas - len(ready)),
            "conditions": [
                {"type": "Available", "status": "True" if len(ready) >= dep.replicas - 1 else "False",
                 "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True",
                 "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                 "message": f'ReplicaSet "{dep.name}-{dep.revisions[-1]["hash"]}" '
                            + ("has successfully progressed." if done else "is progressing."),
                 "lastUpdateTime": now, "lastTransitionTime": now},
            ],
        },
    }


def replicasets_json(st: State, dep: Dep) -> list[dict[str, Any]]:
    pods = [p for p in st.pods.values() if p.namespace == dep.namespace and p.deployment == dep.name]
    out = []
    for rev in dep.revisions:
        name = f"{dep.name}-{rev['hash']}"
        n = sum(1 for p in pods if p.owner == f"ReplicaSet/{name}")
        ann = {"deployment.kubernetes.io/revision": str(rev["revision"])}
        if rev.get("change_cause"):
            ann["kubernetes.io/change-cause"] = rev["change_cause"]
        out.append({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": name, "namespace": dep.namespace, "uid": uid(name), "annotations": ann,
                                 "creationTimestamp": ts(rev["created"]), "labels": {**dep.spec["labels"], "pod-template-hash": rev["hash"]},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep.name,
                                                      "uid": uid(f"{dep.namespace}/{dep.name}"), "controller": True}]},
                    "spec": {"replicas": n, "selector": {"matchLabels": {"app": dep.spec["labels"]["app"], "pod-template-hash": rev["hash"]}},
                             "template": template_json(dep, rev)},
                    "status": {"replicas": n, "readyReplicas": n, "availableReplicas": n, "observedGeneration": 1}})
    return out


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code, **({"details": details} if details else {})}
    return JSONResponse(body, status_code=code)


def not_found(kind: str, name: str) -> JSONResponse:
    return status(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


FIELDS = {"involvedObject.name": lambda e: e["involvedObject"]["name"], "involvedObject.kind": lambda e: e["involvedObject"]["kind"],
          "involvedObject.namespace": lambda e: e["involvedObject"]["namespace"], "type": lambda e: e["type"],
          "reason": lambda e: e["reason"], "metadata.name": lambda e: e["metadata"]["name"]}


def page(items: list[dict[str, Any]], request: Request, kind: str) -> JSONResponse:
    q = request.query_params
    start = int(base64.urlsafe_b64decode(q["continue"]).decode()) if q.get("continue") else 0
    limit = int(q.get("limit") or 0) or len(items)
    chunk, more = items[start:start + limit], start + limit < len(items)
    meta = {"resourceVersion": "1", **({"continue": base64.urlsafe_b64encode(str(start + limit).encode()).decode()} if more else {})}
    return JSONResponse({"apiVersion": "apps/v1" if kind == "ReplicaSetList" else "v1", "kind": kind, "metadata": meta,
                         "items": chunk})
