"""The writing tools: restart_deployment, scale_deployment, delete_pod, run_in_pod.

Each is destructive (so Claude Code asks the person before each call unless they chose otherwise),
refused in read-only mode (dropped from tools/list) and in protected namespaces.

``scale_deployment`` asks the person itself, with the preview ("replicas 3 -> 5"), through MCP
elicitation (the client shows the form to the person; the model never sees or fills it), and acts
only on their yes (a decline or cancel changes nothing). A client that cannot ask gets the
preview in a refusal that says what the person can do, and nothing changes: no call, and no
sequence of calls, the model makes scales a deployment without the person. There is no
``confirm`` argument the model could fill in.

No write is ever re-sent; when its answer is lost or unexpected the tool reads the object back
(:mod:`paii_kubernetes.readback`) and says what happened, or that the outcome is unknown.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context as McpContext
from pydantic import BaseModel, Field

from paii_common.calls import still_awaited
from paii_common.errors import Conflict, OutcomeUnknown, PaiiError
from paii_common.tools import tool
from paii_common.untrusted import fence

from paii_kubernetes.client import KubernetesClient
from paii_kubernetes.envguard import mask as mask_env
from paii_kubernetes.envguard import secret_env_of
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.execstream import EXEC_CHECK
from paii_kubernetes.models import DeletedPod, Deployment, ExecOutput, RolloutResult, ScaleResult
from paii_kubernetes.policy import check_argv, check_write_allowed, refuse_secret_access, validate_name
from paii_kubernetes.readback import SERVICE, Pending, delete_outcome, patch_outcome, refuse_replacement
from paii_kubernetes.views import OUTPUT_LABEL, exec_output, rollout_state

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
    pending = Pending()  # writes whose outcome was unknown: a repeat must not do them twice

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
        key = (k8s.cluster(context).context, ns, name)
        # the real clock, as kubectl: a fixed PAII_NOW would make a second restart change nothing; a repeat of
        # a restart whose outcome was unknown sends the same stamp again, so the deployment restarts once
        prior = pending.get(key)
        stamp = prior[0] if prior else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pending.put(key, stamp)  # until this call answers: a repeat after any other ending re-sends this stamp
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        check = f"call get_deployment {name}: a new revision means the restart happened; do not restart it again."
        what = f"restart deployment {name} in {ns}"

        def stamped(dep: dict[str, Any]) -> bool:
            ann = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
            return ann.get(RESTARTED_AT) == stamp

        def patch() -> str:
            try:
                k8s.call(what, k8s.apps(context).patch_namespaced_deployment, name, ns, body, write=True, check=check)
                note = ""
            except OutcomeUnknown as lost:
                patch_outcome(lost, lambda: read_dep(name, ns, context), stamped, what=what, goal="restarted",
                              tool="restart_deployment", check=check)
                note = f"Kubernetes did not confirm the restart ({lost.detail}), but reading it back shows it restarted; "
            return note

        called = time.monotonic()
        unconfirmed = await anyio.to_thread.run_sync(patch)
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
        text = unconfirmed + (f"rollout complete: {view.ready}/{view.desired} ready" if done else
                f"rollout {state} after {waited:.0f} s: {view.updated}/{view.desired} updated, {view.ready} ready; "
                "follow it with get_deployment")
        pending.drop(key)  # answered: a later restart is a new one
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

        def apply() -> tuple[int, str | None]:
            what = f"scale deployment {name} in {ns}"
            check = f"call get_deployment {name} and compare its desired replicas with {replicas}."
            note = None
            try:
                k8s.call(what, k8s.apps(context).patch_namespaced_deployment, name, ns, {"spec": {"replicas": replicas}},
                         write=True, check=check)
            except OutcomeUnknown as lost:
                patch_outcome(lost, lambda: read_dep(name, ns, context),
                              lambda dep: (dep.get("spec") or {}).get("replicas") == replicas,
                              what=what, goal=f"at {replicas} replicas", tool="scale_deployment", check=check)
                note = f"Kubernetes did not confirm the scale ({lost.detail}), but reading it back shows {replicas} replicas."
            return (read_dep(name, ns, context).get("spec") or {}).get("replicas", replicas), note

        now_replicas, note = await anyio.to_thread.run_sync(apply)
        return ScaleResult(deployment=name, namespace=ns, preview=preview, applied=True, replicas_now=now_replicas,
                           next=note)

    @tool(read_only=False, destructive=True, idempotent=True, check="list_pods shows whether the pod is gone")
    def delete_pod(name: Annotated[str, Field()], namespace: Namespace = "",
                   context: Context = "") -> DeletedPod:
        """Delete a pod; its ReplicaSet or StatefulSet recreates it. Ask first."""
        ns = target(namespace, context)
        pod = read_pod(name, ns, context)
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        owners = meta.get("ownerReferences") or []
        owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None
        key = (k8s.cluster(context).context, ns, name)
        prior = pending.get(key)
        if prior and uid and prior[0] != uid:  # the earlier delete landed: this is the replacement
            pending.drop(key)
            raise refuse_replacement(name, ns, prior[0], pod, prior[1])
        check = (f"call list_pods in {ns}: if {name} is gone, Terminating or new (another uid, a young age) it was "
                 "deleted; do not delete it again.")
        replaced = (f"{owner} creates a replacement pod (list_pods shows it)" if owner
                    else "it had no owner: nothing recreates it")
        # the uid as a precondition: this call can only ever delete the pod it read, never a replacement
        body = {"preconditions": {"uid": uid}} if uid else None
        delete = k8s.core(context).delete_namespaced_pod
        extra: dict[str, Any] = {"body": body} if body else {}
        if body and "_headers" in inspect.signature(delete).parameters:
            # (this generation of the client sends a DELETE's body without a Content-Type: say it is JSON)
            extra["_headers"] = {"Content-Type": "application/json"}
        if uid:
            pending.put(key, uid)  # until this call answers (see Pending)
        try:
            k8s.call(f"delete pod {name} in {ns}", delete, name, ns, write=True, check=check, **extra)
        except OutcomeUnknown as lost:
            how = delete_outcome(k8s, lost, name, ns, context or None, uid, check)
            replaced = f"{how} {replaced}"
        except PaiiError:  # refused: nothing was deleted
            pending.drop(key)
            raise
        if still_awaited():
            pending.drop(key)
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
        key = (k8s.cluster(context).context, ns, pod, container, "\0".join(args))
        earlier = pending.get(key)
        if earlier is not None:  # a blind retry of a command that may have run: once, ask first
            pending.drop(key)
            raise Conflict(
                f"the same command ran in pod {pod} {time.monotonic() - earlier[1]:.0f} s ago and its outcome is unknown: "
                "it may have run. It was not run again.",
                hint="Tell the person and look at what it changes; if they want it run again, call run_in_pod again.")
        pending.put(key, "exec")  # until this call answers (see Pending)
        try:
            result = k8s.exec_in_pod(ns, pod, args, container=container, context=context, write=True,
                                     timeout=min(timeout, max(1.0, settings.write_timeout - 1)))
        except OutcomeUnknown:  # it may have run: stays pending
            raise
        except PaiiError:  # refused before it ran
            pending.drop(key)
            raise
        if result.exit_code is None and not result.timed_out:  # the stream ended without the exit status
            lines = result.stderr.splitlines()
            why = lines.pop() if lines and "unexpected" in lines[-1] else "the stream ended"
            seen = mask_env("\n".join(part for part in (result.stdout, "\n".join(lines)) if part), secret_env)
            raise OutcomeUnknown(
                SERVICE, f"exec in pod {pod} ({ns})",
                f"the command's exit status never came ({why})"
                + (f"; its output so far: {fence(seen[-1500:], OUTPUT_LABEL)}" if seen else ""),
                check=EXEC_CHECK)
        if still_awaited():
            pending.drop(key)
        return exec_output(pod, container or None, args, result, secret_env)

    return [restart_deployment, scale_deployment, delete_pod, run_in_pod]
