"""Rules for infrastructure tools: kubectl, helm, terraform and friends (pulumi, cdk, eksctl),
cloud storage and cloud resources (aws, gsutil, gcloud, az, doctl, rclone, s3cmd, mc, azcopy),
and docker volumes."""

import os
import re

from paii_hooks.argv import operands_after, option_value, quote, short_flag
from paii_hooks.paths import read_text

DEFAULT_PRODUCTION = r"(?i)(^|[-_./:@])(prod|production|prd|live)($|[-_./:@\d])"


KUBECTL_VALUE = ("-n", "--namespace", "--context", "--cluster", "--user", "--kubeconfig", "-l", "--selector", "-o",
                 "--output", "-f", "--filename", "--field-selector", "-c", "--container", "-s", "--server", "--token",
                 "--as", "--as-group", "--grace-period", "--timeout", "-L", "--sort-by", "--template", "-k",
                 "--kustomize", "--replicas", "--cascade", "-p", "--patch", "--type", "--for", "--kube-context",
                 "--request-timeout", "--current-replicas", "--resource-version")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
DATA_KINDS = frozenset("""namespace namespaces ns pv pvs persistentvolume persistentvolumes pvc pvcs
persistentvolumeclaim persistentvolumeclaims crd crds customresourcedefinition customresourcedefinitions node nodes
no storageclass storageclasses sc clusterrole clusterroles clusterrolebinding clusterrolebindings
mutatingwebhookconfiguration mutatingwebhookconfigurations validatingwebhookconfiguration
validatingwebhookconfigurations volumesnapshot volumesnapshots""".split())


def kube_context(ctx, inv, explicit, kubeconfig):
    if explicit:
        return explicit
    files = kubeconfig or inv.env.get("KUBECONFIG") or os.environ.get("KUBECONFIG") or os.path.join(ctx.home, ".kube", "config")
    key = ("kube", files)
    if key not in ctx.cache:
        ctx.cache[key] = None
        for path in files.split(os.pathsep):
            m = re.search(r"(?m)^current-context:\s*[\"']?([^\"'\s#]+)", read_text(path, ctx, 1024 * 1024) or "")
            if m:
                ctx.cache[key] = m.group(1)
                break
    return ctx.cache[key]


def production(ctx, inv, argv, context_flag="--context"):
    """(True/False/None for unknown, description) of the cluster and namespace a command targets."""
    prod_re = ctx.config.production if ctx.config else re.compile(DEFAULT_PRODUCTION)
    namespace = option_value(argv, ("-n", "--namespace"))
    context = kube_context(ctx, inv, option_value(argv, (context_flag,)), option_value(argv, ("--kubeconfig",)))
    if namespace and prod_re.search(namespace):
        return True, "namespace %s" % namespace
    if context is None:
        return None, "a cluster the guard cannot tell (no --context, and no current-context in the kubeconfig)"
    if prod_re.search(context):
        return True, "context %s" % context
    return False, "context %s" % context


def kubectl(inv, cmd, ctx, depth):
    argv = inv.argv()
    ops = operands_after(argv, 0, KUBECTL_VALUE)
    if not ops:
        return
    sub, line = ops[0], inv.line()
    if sub == "exec" and "--" in argv:
        words = inv.args[argv.index("--") + 1:]
        ctx.analyse(" ".join(quote(w) for w in words), depth + 1, inv.via + ["kubectl exec"])
        return
    if sub == "delete":
        all_ns = "-A" in argv or "--all-namespaces" in argv
        kinds = [k.split("/", 1)[0].split(".", 1)[0].lower() for op in ops[1:2] if op for k in op.split(",")]
        names = [o.split("/", 1)[-1] for o in ops[1:] if o and "/" in o] + [o for o in ops[2:] if o]
        if kinds and kinds[0] in ("namespace", "namespaces", "ns") and any(n in SYSTEM_NAMESPACES for n in names):
            ctx.add("kubectl-delete-system", "`%s` deletes a namespace Kubernetes itself needs" % line)
            return
        if "--all" in argv and all_ns:
            ctx.add("kubectl-delete-system", "`%s` deletes every %s in every namespace" % (line, "/".join(kinds) or "object"))
            return
        if any(k in DATA_KINDS for k in kinds):
            ctx.add("kubectl-delete-data", "`%s` deletes %s (with the data or workloads in it)" % (line, ", ".join(kinds)))
            return
        prod, where = production(ctx, inv, argv)
        if prod is not False:
            ctx.add("kubectl-delete-prod", "`%s` deletes in %s" % (line, where))
    elif sub == "scale":
        replicas = option_value(argv, ("--replicas",))
        if replicas is not None and replicas.strip() == "0":
            prod, where = production(ctx, inv, argv)
            if prod is not False:
                ctx.add("kubectl-scale-zero", "`%s` stops every pod of it in %s" % (line, where))
    elif sub in ("drain", "cordon", "taint"):
        prod, where = production(ctx, inv, argv)
        if prod is not False:
            ctx.add("kubectl-drain", "`%s` moves workloads off a node in %s" % (line, where))


def helm(inv, cmd, ctx, depth):
    argv = inv.argv()
    ops = operands_after(argv, 0, ("-n", "--namespace", "--kube-context", "--kubeconfig", "--timeout", "--repo"))
    if ops and ops[0] in ("uninstall", "delete", "del", "un"):
        _, where = production(ctx, inv, argv, "--kube-context")
        ctx.add("helm-uninstall", "`%s` removes the release %s and its resources in %s"
                % (inv.line(), " ".join(o for o in ops[1:] if o) or "?", where))


def terraform(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    ops = operands_after(argv, 0, ())
    line = inv.line()
    if inv.prog in ("pulumi", "cdk", "serverless", "sls"):
        if ops[:1] in (["destroy"], ["remove"]) or ops[:2] == ["stack", "rm"]:
            ctx.add("terraform-destroy", "`%s` deletes the infrastructure it manages" % line)
        return
    flags = [a.lstrip("-") for a in argv if a.startswith("-")]
    if not ops:
        return
    if ops[0] in ("destroy", "destroy-all") or ops[:2] == ["run-all", "destroy"] or (ops[0] == "apply" and "destroy" in flags) \
            or ops[:2] in (["state", "rm"], ["state", "push"], ["workspace", "delete"]):
        ctx.add("terraform-destroy", "`%s` deletes infrastructure (or its state)" % line)
    elif ops[0] == "apply" and "auto-approve" in flags:
        ctx.add("terraform-auto-approve", "`%s` changes infrastructure without showing the plan first" % line)


# --- clouds -----------------------------------------------------------------------------------------

AWS_DELETES = frozenset("""terminate-instances delete-db-instance delete-db-cluster delete-table delete-stack
delete-cluster delete-bucket delete-file-system delete-volume delete-hosted-zone delete-repository delete-secret
schedule-key-deletion delete-nodegroup delete-db-snapshot delete-global-table delete-domain""".split())
CLOUD_VALUE = ("--profile", "--region", "--output", "--project", "--zone", "-g", "--resource-group", "--subscription",
               "--endpoint-url", "--query", "--exclude", "--include", "--acl", "--sse", "--storage-class",
               "--cache-control", "--content-type", "--expires", "--metadata", "--grants", "--name", "-n", "--cluster",
               "-f", "--config-file", "--region", "--context", "--config")
BUCKETS = ("s3://", "gs://", "az://", "https://", "r2://")
RCLONE_DELETES = frozenset({"purge", "delete", "deletefile", "rmdir", "rmdirs", "cleanup", "sync", "move", "moveto",
                            "bisync"})


def cloud(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    ops = operands_after(argv, 0, CLOUD_VALUE)
    flags = [a for a in argv if a.startswith("-")]
    line = inv.line()
    recursive = short_flag([f for f in flags if not f.startswith("--")], "rR") or "--recursive" in flags
    bucket_dest = bool(ops) and ops[-1].startswith(BUCKETS)
    prog, hit = inv.prog, False
    if prog == "aws":
        hit = (ops[:2] == ["s3", "rm"] and recursive) or ops[:2] == ["s3", "rb"] \
            or (ops[:2] == ["s3", "mv"] and recursive) \
            or (ops[:2] == ["s3", "sync"] and "--delete" in flags and bucket_dest) \
            or (len(ops) > 1 and (ops[1] in AWS_DELETES or ops[1].startswith(("delete-", "terminate-", "batch-delete-",
                                                                             "purge-"))))
    elif prog == "gsutil":
        hit = (ops[:1] == ["rm"] and recursive) or ops[:1] == ["rb"] \
            or (ops[:1] == ["rsync"] and short_flag(flags, "d", ("--delete-unmatched-destination-objects",)) and bucket_dest)
    elif prog == "gcloud":
        hit = "delete" in ops or (ops[:2] == ["storage", "rm"] and recursive) \
            or (ops[:2] == ["storage", "rsync"] and "--delete-unmatched-destination-objects" in flags)
    elif prog in ("az", "doctl"):
        hit = any(o == "delete" or o.startswith("delete-") for o in ops) or (prog == "az" and "purge" in ops)
    elif prog == "eksctl":
        hit = ops[:1] == ["delete"]
    elif prog == "rclone":
        hit = ops[:1] and ops[0] in RCLONE_DELETES
    elif prog == "s3cmd":
        hit = (ops[:1] in (["del"], ["rm"]) and recursive) or ops[:1] == ["rb"] \
            or (ops[:1] == ["sync"] and "--delete-removed" in flags and bucket_dest)
    elif prog == "mc":
        hit = (ops[:1] == ["rm"] and (recursive or "--force" in flags)) or ops[:1] == ["rb"] \
            or (ops[:1] == ["mirror"] and ("--remove" in flags or "--overwrite" in flags))
    elif prog == "azcopy":
        hit = ops[:1] == ["remove"] or (ops[:1] == ["sync"] and any(f.startswith("--delete-destination=t") for f in flags))
    if hit:
        ctx.add("cloud-delete", "`%s` deletes cloud resources or data" % line)


# --- containers --------------------------------------------------------------------------------------

DOCKER_EXEC_VALUE = ("-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file", "--detach-keys")


def docker(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    if argv[:1] == ["exec"] or argv[:2] == ["container", "exec"]:
        start = 1 if argv[0] == "exec" else 2
        i = start
        while i < len(inv.args) and (inv.args[i].static() or "-").startswith("-"):
            i += 2 if inv.args[i].static() in DOCKER_EXEC_VALUE else 1
        words = inv.args[i + 1:]  # after the container's name
        if words:
            ctx.analyse(" ".join(quote(w) for w in words), depth + 1, inv.via + ["%s exec" % inv.prog])
        return
    ops = operands_after(argv, 0, ("-f", "--file", "-p", "--project-name", "--context", "-H", "--host"))
    flags = [a for a in argv if a.startswith("-")]
    volumes = "-v" in flags or "--volumes" in flags
    if (ops[:2] == ["system", "prune"] and ("-a" in flags or "--all" in flags or volumes)) \
            or ops[:2] in (["volume", "prune"], ["volume", "rm"]) \
            or (("down" in ops[:2]) and volumes and (inv.prog == "docker-compose" or ops[:1] == ["compose"])):
        ctx.add("docker-prune", "`%s` deletes volumes or every unused image and container" % inv.line())


CHECKS = {
    "kubectl oc k": kubectl, "helm": helm, "terraform tofu terragrunt pulumi cdk serverless sls": terraform,
    "aws gsutil gcloud az doctl eksctl rclone s3cmd mc azcopy": cloud, "docker podman docker-compose nerdctl": docker,
}
