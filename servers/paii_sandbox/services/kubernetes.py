"""Sandbox Kubernetes API server: core/v1 pods, logs, events, pod exec (WebSocket) and apps/v1
deployments and replica sets, stateful, for the PAII Kubernetes server and the runbook engine.

Paths, query parameters, the bearer token, ``Status`` errors, ``limit``/``continue`` paging and the
exec channel protocol (v4/v5.channel.k8s.io) are the real API's; responses validate against the
published spec (tests/kubernetes/test_sandbox_service.py). Writes change later reads: a rollout
restart creates a new revision whose pods replace the old ones one per deployment read (so a
client waiting on the rollout sees it progress); scaling adds or removes pods; a deleted pod is
recreated by its owner. Pods the sandbox creates are ``fresh``: their logs and exec answers are
the seed's healthy ones. Run alone: ``python -m paii_sandbox.services.kubernetes PORT DIR``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from paii_sandbox.services._kubernetes_json import (
    FIELDS,
    deployment_json,
    not_found,
    page,
    pod_json,
    replicasets_json,
    status,
)
from paii_sandbox.services._kubernetes_state import (
    Pod,
    State,
    add_event,
    dep_counts,
    exec_answer,
    label_match,
    log_text,
    new_pod,
    seed,
    suffix,
    ts,
)

__all__ = ["NAME", "PORT_OFFSET", "create_app", "dump", "env", "error_body", "mutates", "seed"]

NAME = "kubernetes"
PORT_OFFSET = 3
#: what env() writes into the kubeconfig when the seed does not say (the seed's token must match it)
DEFAULTS = {"context": "paii-sandbox", "user": "oncall", "token": "sandbox-k8s-token-4b1d"}
CORE, APPS = "/api/v1/namespaces/{ns}", "/apis/apps/v1/namespaces/{ns}"
_DEPLOYMENT = re.compile(r"^/apis/apps/v1/namespaces/[^/]+/deployments/[^/]+$")


def mutates(method: str, path: str) -> bool:
    """Which requests the sandbox's write log keeps: writes, execs (they move the seed's story on),
    and reads of a deployment (a rollout replaces one old pod per read)."""
    return method not in ("GET", "HEAD") or bool(_DEPLOYMENT.match(path))


# ---------------------------------------------------------------------- the app
def create_app(state: State, world: Any) -> Starlette:
    st = state

    def now() -> datetime:
        st.now = world.now()
        return st.now

    def authorized(headers: Any) -> bool:
        return headers.get("authorization", "") == f"Bearer {st.token}"

    def guard(fn):  # noqa: ANN001, ANN202 - a small decorator
        async def handler(request: Request) -> Response:
            now()
            if not authorized(request.headers):
                return status(401, "Unauthorized", "Unauthorized")
            return await fn(request, request.path_params.get("ns"), request.path_params.get("name"))
        return handler

    @guard
    async def list_pods(request: Request, ns: str, _name: None) -> Response:
        sel = request.query_params.get("labelSelector", "")
        pods = sorted((p for p in st.pods.values() if p.namespace == ns and label_match(sel, p.labels)), key=lambda p: p.name)
        return page([pod_json(p) for p in pods], request, "PodList")

    @guard
    async def pod(request: Request, ns: str, name: str) -> Response:
        p = st.pods.get((ns, name))
        if p is None:
            return not_found("pods", name)
        if request.method == "DELETE":
            try:
                options = json.loads(await request.body() or b"{}")
            except ValueError:
                return status(400, "BadRequest", "the body of the request was in an unknown format")
            want = ((options or {}).get("preconditions") or {}).get("uid") if isinstance(options, dict) else None
            have = pod_json(p)["metadata"]["uid"]
            if want and want != have:
                return status(409, "Conflict", f"Operation cannot be fulfilled on Pod \"{name}\": Precondition failed: "
                                                f"UID in precondition: {want}, UID in object meta: {have}")
            del st.pods[(ns, name)]
            t = now()
            add_event(st, ns, "Pod", name, "Normal", "Killing", f"Stopping container {p.container}", first=t, last=t)
            if p.deployment and (dep := st.deps.get((ns, p.deployment))):
                new_pod(st, dep, t)
            elif p.owner.startswith("StatefulSet/"):
                st.pods[(ns, name)] = Pod(**{**p.__dict__, "created": t, "started": t, "restarts": 0, "fresh": True,
                                             "last_termination": None, "ready": True})
        return JSONResponse(pod_json(p))

    @guard
    async def pod_log(request: Request, ns: str, name: str) -> Response:
        p, q = st.pods.get((ns, name)), request.query_params
        if p is None:
            return not_found("pods", name)
        if q.get("container") and q["container"] != p.container:
            return status(400, "BadRequest", f"container {q['container']} is not valid for pod {name}")
        lines = log_text(st, p, q.get("previous") == "true")
        if lines is None:
            return status(400, "BadRequest", f'previous terminated container "{p.container}" in pod "{name}" not found')
        if q.get("sinceSeconds"):
            lines = [ln for ln in lines if ln[0] >= st.now - timedelta(seconds=int(q["sinceSeconds"]))]
        if q.get("tailLines"):
            lines = lines[-int(q["tailLines"]):] if int(q["tailLines"]) else []
        text = "".join(f"{ts(t)} {s}\n" for t, s in lines)
        if q.get("limitBytes"):
            text = text[:int(q["limitBytes"])]
        return PlainTextResponse(text)

    @guard
    async def events(request: Request, ns: str, _name: None) -> Response:
        items = st.events.get(ns, [])
        for term in filter(None, (request.query_params.get("fieldSelector") or "").split(",")):
            m = re.match(r"^([\w.]+)(!=|==|=)(.*)$", term)
            key, op, value = m.groups() if m else (term, "", "")
            if key not in FIELDS:
                return status(400, "BadRequest", f'"{key}" is not a known field selector: only "{", ".join(FIELDS)}"')
            items = [e for e in items if (FIELDS[key](e) == value) == (op != "!=")]
        return page(copy.deepcopy(items), request, "EventList")

    @guard
    async def deployment(request: Request, ns: str, name: str) -> Response:
        dep = st.deps.get((ns, name))
        if dep is None:
            return not_found("deployments.apps", name)
        if request.method == "PATCH":
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                return status(400, "BadRequest", "the body of the request was in an unknown format")
            spec = body.get("spec") or {}
            t = now()
            if "replicas" in spec:
                dep.replicas, dep.generation = int(spec["replicas"]), dep.generation + 1
                _, current = dep_counts(st, dep)
                while len(current) < dep.replicas:
                    current.append(new_pod(st, dep, t))
                for extra in sorted(current, key=lambda p: p.created)[dep.replicas:]:
                    del st.pods[(ns, extra.name)]
                add_event(st, ns, "Deployment", name, "Normal", "ScalingReplicaSet",
                       f"Scaled replica set {name}-{dep.revisions[-1]['hash']} to {dep.replicas}", first=t, last=t)
            restarted = (((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}).get(
                "kubectl.kubernetes.io/restartedAt")
            if restarted and restarted != dep.revisions[-1].get("restarted_at"):
                n = dep.revisions[-1]["revision"] + 1
                dep.revisions.append({**dep.revisions[-1], "revision": n, "hash": suffix(f"{ns}/{name}/{n}", 9),
                                      "created": t, "restarted_at": restarted, "change_cause": None})
                dep.generation += 1
                dep.pending = len(dep_counts(st, dep)[0])
                add_event(st, ns, "Deployment", name, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {name}-{dep.revisions[-1]['hash']} to 1", first=t, last=t)
            return JSONResponse(deployment_json(st, dep))
        if dep.pending:  # the rollout replaces one old pod per read
            pods, current = dep_counts(st, dep)
            old = sorted((p for p in pods if p not in current), key=lambda p: p.name)
            if old:
                del st.pods[(ns, old[0].name)]
            if len(current) < dep.replicas:
                new_pod(st, dep, st.now)
            dep.pending = len(old) - 1 if old else 0
        return JSONResponse(deployment_json(st, dep))

    @guard
    async def replicasets(request: Request, ns: str, _name: None) -> Response:
        sel = request.query_params.get("labelSelector", "")
        items = [rs for dep in st.deps.values() if dep.namespace == ns for rs in replicasets_json(st, dep)
                 if label_match(sel, rs["metadata"]["labels"])]
        return page(items, request, "ReplicaSetList")

    async def exec_http(request: Request) -> Response:
        return status(400, "BadRequest", "Upgrade request required")

    async def exec_ws(ws: WebSocket) -> None:
        now()
        ns, name = ws.path_params["ns"], ws.path_params["name"]
        if not authorized(ws.headers):
            await ws.send_denial_response(status(401, "Unauthorized", "Unauthorized"))
            return
        p = st.pods.get((ns, name))
        argv = ws.query_params.getlist("command")
        container = ws.query_params.get("container")
        if p is None:
            await ws.send_denial_response(not_found("pods", name))
            return
        if container and container != p.container:
            await ws.send_denial_response(status(400, "BadRequest", f"container {container} is not valid for pod {name}"))
            return
        offered = ws.scope.get("subprotocols") or []
        proto = next((x for x in ("v5.channel.k8s.io", "v4.channel.k8s.io") if x in offered), None)
        await ws.accept(subprotocol=proto)
        if not argv:
            result = {"metadata": {}, "status": "Failure", "message": "you must specify at least 1 command", "reason": "BadRequest", "code": 400}
        else:
            answer = exec_answer(st, p, argv)
            if answer.get("live") and not getattr(world, "replaying", False):  # e.g. postgres.dbstats: the answer of a runtime (a real database) when there is one
                answer = await live_answer(world, answer, p.name)
            if answer.get("delay") and not getattr(world, "replaying", False):
                await asyncio.sleep(min(float(answer["delay"]), 60))
            out = str(answer.get("stdout", "")) * int(answer.get("repeat", 1))
            for i in range(0, len(out), 16384):
                await ws.send_bytes(b"\x01" + out[i:i + 16384].encode())
            if answer.get("stderr"):
                await ws.send_bytes(b"\x02" + str(answer["stderr"]).encode())
            code = int(answer.get("exit", 0))
            result = {"metadata": {}, "status": "Success"} if code == 0 else {
                "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                "message": f"command terminated with non-zero exit code: exit status {code}",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        await ws.send_bytes(b"\x03" + json.dumps(result).encode())
        await ws.close()

    async def fallback(request: Request) -> Response:
        if not authorized(request.headers):
            return status(401, "Unauthorized", "Unauthorized")
        return status(404, "NotFound", "the server could not find the requested resource")

    routes = [
        Route(CORE + "/pods", list_pods), Route(CORE + "/pods/{name}", pod, methods=["GET", "DELETE"]),
        Route(CORE + "/pods/{name}/log", pod_log), Route(CORE + "/events", events),
        Route(CORE + "/pods/{name}/exec", exec_http, methods=["GET", "POST"]),
        WebSocketRoute(CORE + "/pods/{name}/exec", exec_ws),
        Route(APPS + "/deployments/{name}", deployment, methods=["GET", "PATCH"]),
        Route(APPS + "/replicasets", replicasets),
        Route("/{path:path}", fallback, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)


async def live_answer(world: Any, rule: dict[str, Any], pod: str) -> dict[str, Any]:
    """A rule's ``live: service.method`` asked of that service's runtime (with the pod's name); the rule's
    own answer when there is no runtime or it has nothing live (the stand-in)."""
    service, _, method = str(rule["live"]).partition(".")
    rt = getattr(world, "runtimes", {}).get(service)
    try:
        stdout = await asyncio.to_thread(getattr(rt, method), pod) if rt is not None else None
    except LookupError:  # the runtime has nothing live (the stand-in answers)
        stdout = None
    return rule if stdout is None else {**rule, "stdout": stdout}


def env(base_url: str, sandbox_dir: Path, data: dict[str, Any] | None = None) -> dict[str, str]:
    """Write a kubeconfig for the sandbox cluster and point PAII_KUBERNETES_KUBECONFIG at it.

    A sandbox without a folder of its own (one run in a test thread gets ``Path(".")``) gets a
    temporary folder: the kubeconfig never lands in the working directory."""
    data = {**DEFAULTS, **(data or {})}
    if str(sandbox_dir) in ("", "."):
        import tempfile

        sandbox_dir = Path(tempfile.mkdtemp(prefix="paii-sandbox-kubernetes-"))
    ctx, user = data["context"], data["user"]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": ctx, "preferences": {},
              "clusters": [{"name": ctx, "cluster": {"server": base_url.rstrip("/")}}],
              "users": [{"name": user, "user": {"token": data["token"]}}],
              "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": user, "namespace": "payments"}}]}
    path = Path(sandbox_dir) / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
    path.chmod(0o600)
    return {"PAII_KUBERNETES_KUBECONFIG": str(path)}


def error_body(code: int) -> tuple[dict[str, Any], str]:
    """The API's own shape of a 429/500/503 (fault injection answers with it)."""
    reasons = {429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
               500: ("InternalError", "an error on the server prevented the request from succeeding"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the request")}
    reason, message = reasons.get(code, ("InternalError", "error"))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}, "application/json"


def dump(state: State) -> dict[str, Any]:
    """What ``paii sandbox state kubernetes`` prints: pods and deployments per namespace, the last commands run."""
    out: dict[str, Any] = {}
    for (ns, _), p in sorted(state.pods.items()):
        out.setdefault(ns, {"pods": [], "deployments": {}})["pods"].append(
            {"name": p.name, "ready": p.ready, "restarts": p.restarts, "fresh": p.fresh})
    for (ns, name), d in sorted(state.deps.items()):
        out.setdefault(ns, {"pods": [], "deployments": {}})["deployments"][name] = {
            "replicas": d.replicas, "revision": d.revisions[-1]["revision"], "rollout_pending": d.pending}
    for run in (getattr(state, "execs", None) or [])[-50:]:
        out.setdefault(run["namespace"], {"pods": [], "deployments": {}}).setdefault("execs", []).append(run)
    return out


def load_seed() -> dict[str, Any]:
    """This service's part of the packaged seed: the ``kubernetes`` key of the sandbox's ``seed.yaml``."""
    import yaml

    folder = Path(__file__).resolve().parent.parent
    for name in ("seed.yaml",):
        path = folder / name
        if path.is_file():
            part = (yaml.safe_load(path.read_text()) or {}).get(NAME)
            if part:
                return {**DEFAULTS, **part}
    raise FileNotFoundError(f"no {NAME} part in {folder}/seed.yaml")


class FixedWorld:
    """A stand-in for the framework's World: ``now()`` is fixed, or real time."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)


if __name__ == "__main__":  # until the sandbox framework serves it: PORT DIR [NOW]
    import sys

    import uvicorn

    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    fixed = datetime.fromisoformat(sys.argv[3].replace("Z", "+00:00")) if len(sys.argv) > 3 else None
    world = FixedWorld(fixed)
    print(json.dumps(env(f"http://127.0.0.1:{port}", folder)), flush=True)
    uvicorn.run(create_app(seed(load_seed(), world.now()), world), host="127.0.0.1", port=port, log_level="warning")
