"""The writing tools: restart_deployment, scale_deployment, delete_pod, run_in_pod.

Each is destructive (so Claude Code asks the person before each call unless they chose otherwise),
refused in read-only mode (dropped from tools/list) and in protected namespaces.

``scale_deployment`` asks the person itself, with the preview ("replicas 3 -> 5"), through MCP
elicitation (the client shows the form to the person; the model never sees or fills it), and acts
only on their yes (a decline or cancel changes nothing). A client that cannot ask gets the
preview in a refusal that says what the person can do, and nothing changes: no call, and no
sequence of calls, the model makes scales a deployment without the person. There is no
``confirm`` argument the model could fill in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context as McpContext
from pydantic import BaseModel, Field

from paii_common.errors import Conflict, OutcomeUnknown, PaiiError
from paii_common.tools import tool

from paii_kubernetes.client import KubernetesClient
from paii_kubernetes.envguard import secret_env_of
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.models import DeletedPod, Deployment, ExecOutput, RolloutResult, ScaleResult
from paii_kubernetes.policy import check_argv, check_write_allowed, refuse_secret_access, validate_name
from paii_kubernetes.views import exec_output, rollout_state

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

Namespace = Annotated[str, Field(description="Default: context's")]
Context = Annotated[str, Field(description="kubeconfig context; default current")]
DeploymentName = Annotated[str, Field()]


class ScaleConfirmation(BaseModel):
    scale: bool = Field(description="Scale now?")


def _supports_elicitation(ctx: McpContext) -> bool:
    """The client declared elicitation and this connection can carry a server-initiated request
    (a 2026-07-28 client without one cannot be asked: scale refuses)."""
    try:
        session = ctx.request_context.session
        caps = session.client_capabilities
        return bool(caps and caps.elicitation is not None and session.can_send_request)
    except (AttributeError, ValueError):
        return False


def write_tools(settings: KubernetesSettings, k8s: KubernetesClient, *,
                deployment: Callable[[str, str, str | None], Deployment],
                read_pod: Callable[[str, str, str | None], dict[str, Any]]) -> list[Callable[..., Any]]:

    def target(namespace: str | None, context: str | None) -> str:
        ns = k8s.namespace(namespace, context)
        check_write_allowed(ns, settings)
        return ns

    def read_dep(name: str, ns: str, context: str | None) -> dict[str, Any]:
        return k8s.call(f"read deployment {name} in {ns}", k8s.apps(context).read_namespaced_deployment, name, ns)

    @tool(read_only=False, destructive=True, check="get_deployment shows a new revision if the restart happened")
    async def restart_deployment(
        name: DeploymentName,
        ctx: McpContext,
        namespace: Namespace = "",
        timeout: Annotated[float, Field(description="Wait seconds; max PAII_WRITE_TIMEOUT", ge=0, le=600)] = 0,
        context: Context = "",
    ) -> RolloutResult:
        """Restart a deployment's pods (rollout restart), then wait for the rollout and report. Ask first."""
        ns = await anyio.to_thread.run_sync(target, namespace, context)
        validate_name(name, "deployment")
        # the real clock, as kubectl: a fixed PAII_NOW would make a second restart change nothing
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        check = f"call get_deployment {name}: a new revision means the restart happened."

        def patch() -> None:
            try:
                k8s.call(f"restart deployment {name} in {ns}", k8s.apps(context).patch_namespaced_deployment, name, ns,
                         body, write=True, check=check)
            except OutcomeUnknown:
                now = read_dep(name, ns, context)  # read the truth back before reporting "unknown"
                ann = (((now.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
                if ann.get(RESTARTED_AT) != stamp:
                    raise

        called = time.monotonic()
        await anyio.to_thread.run_sync(patch)
        started = time.monotonic()
        # the whole call ends within PAII_WRITE_TIMEOUT: keep a few seconds for the last reads
        wait = min(timeout or settings.write_timeout, settings.write_timeout - (started - called) - 3)
        interval = settings.rollout_poll_s
        while True:
            dep = await anyio.to_thread.run_sync(read_dep, name, ns, context)
            state, done = rollout_state(dep)
            status, desired = dep.get("status") or {}, (dep.get("spec") or {}).get("replicas", 1)
            updated = status.get("updatedReplicas") or 0
            await ctx.report_progress(min(updated, desired), desired, f"{updated}/{desired} updated, {state}")
            waited = time.monotonic() - started
            if done or state in ("stalled", "paused") or waited + interval > wait:
                break
            await anyio.sleep(interval)
            interval = min(interval * 2, 5.0)
        view = await anyio.to_thread.run_sync(deployment, name, ns, context)
        text = (f"rollout complete: {view.ready}/{view.desired} ready" if done else
                f"rollout {state} after {waited:.0f} s: {view.updated}/{view.desired} updated, {view.ready} ready; "
                "follow it with get_deployment")
        return RolloutResult(deployment=name, namespace=ns, restarted_at=stamp, complete=done, status=text,
                             waited_s=round(waited, 1), deployment_now=view)

    @tool(read_only=False, destructive=True, check="get_deployment shows the desired replicas")
    async def scale_deployment(
        name: DeploymentName,
        replicas: Annotated[int, Field(ge=0, le=1000)],
        ctx: McpContext,
        namespace: Namespace = "",
        context: Context = "",
    ) -> ScaleResult:
        """Scale a deployment once the person confirms the preview (replicas 3 -> 5) at the client's prompt.

        A client without that prompt (MCP elicitation) changes nothing."""
        ns = await anyio.to_thread.run_sync(target, namespace, context)
        validate_name(name, "deployment")
        dep = await anyio.to_thread.run_sync(read_dep, name, ns, context)
        current = (dep.get("spec") or {}).get("replicas", 1)
        preview = f"replicas {current} -> {replicas}"
        if current == replicas:
            return ScaleResult(deployment=name, namespace=ns, preview=f"{preview} (no change)", applied=False,
                               replicas_now=current)
        if not _supports_elicitation(ctx):
            raise Conflict(
                f"Not scaled: {ns}/{name} {preview} needs the person's yes, and this client cannot ask them (it does not "
                "support MCP elicitation, the prompt PAII shows for this). Show the person the preview; they can scale "
                f"it themselves (`kubectl scale deployment/{name} -n {ns} --replicas={replicas}`) or in a client that "
                "asks, such as Claude Code in an interactive session. Calling again changes nothing.")
        answer = await ctx.elicit(f"Scale deployment {ns}/{name}: {preview}?", ScaleConfirmation)
        if answer.action != "accept" or not answer.data.scale:
            raise PaiiError(f"Not scaled: the person did not approve {preview} for {ns}/{name} ({answer.action}).",
                            hint="Do not retry unless they ask again.")

        def apply() -> int:
            try:
                k8s.call(f"scale deployment {name} in {ns}", k8s.apps(context).patch_namespaced_deployment, name, ns,
                         {"spec": {"replicas": replicas}}, write=True,
                         check=f"call get_deployment {name} and compare desired with {replicas}.")
            except OutcomeUnknown:
                if (read_dep(name, ns, context).get("spec") or {}).get("replicas") != replicas:
                    raise
            return (read_dep(name, ns, context).get("spec") or {}).get("replicas", replicas)

        now_replicas = await anyio.to_thread.run_sync(apply)
        return ScaleResult(deployment=name, namespace=ns, preview=preview, applied=True, replicas_now=now_replicas)

    @tool(read_only=False, destructive=True, idempotent=True, check="list_pods shows whether the pod is gone")
    def delete_pod(name: Annotated[str, Field()], namespace: Namespace = "",
                   context: Context = "") -> DeletedPod:
        """Delete a pod; its ReplicaSet or StatefulSet recreates it. Ask first."""
        ns = target(namespace, context)
        pod = read_pod(name, ns, context)
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None
        k8s.call(f"delete pod {name} in {ns}", k8s.core(context).delete_namespaced_pod, name, ns, write=True,
                 check=f"call list_pods in {ns}: the pod is gone or Terminating if it was deleted.")
        replaced = (f"{owner} creates a replacement pod (list_pods shows it)" if owner
                    else "it had no owner: nothing recreates it")
        return DeletedPod(pod=name, namespace=ns, owner=owner, replaced=replaced)

    @tool(read_only=False, destructive=True, check="ask the person: the command may have run")
    def run_in_pod(
        pod: Annotated[str, Field()],
        argv: Annotated[list[str], Field(description="Program and arguments (no shell)", min_length=1, max_length=64)],
        namespace: Namespace = "",
        container: Annotated[str, Field(description="Default: the pod's default")] = "",
        timeout: Annotated[float, Field(description="Seconds; max PAII_WRITE_TIMEOUT", ge=1, le=300)] = 20,
        context: Context = "",
    ) -> ExecOutput:
        """Run a non-allowlisted command in a container with the person's yes. Env/Secret dumps refused; output masked."""
        ns = target(namespace, context)
        args = check_argv(argv)
        if container:
            validate_name(container, "container")
        secret_env = secret_env_of(read_pod(pod, ns, context))  # the names its Secrets fill in: refused, masked
        refuse_secret_access(args, secret_env)
        result = k8s.exec_in_pod(ns, pod, args, container=container, context=context,
                                 timeout=min(timeout, max(1.0, settings.write_timeout - 1)))
        return exec_output(pod, container or None, args, result, secret_env)

    return [restart_deployment, scale_deployment, delete_pod, run_in_pod]
