"""Rules for operations tools: git, kubectl, helm, terraform and friends, database clients,
cloud CLIs, docker, and ``paii runbook approve``."""

import fnmatch
import os
import re

from paii_hooks.paths import normalise, read_text
from paii_hooks.rules_fs import quote, short_flag

DEFAULT_PRODUCTION = r"(?i)(^|[-_./:@])(prod|production|prd|live)($|[-_./:@\d])"
DEFAULT_PROTECTED = ("main", "master")


def operands_after(argv, start, with_value):
    """Positional arguments from ``start``, skipping options (and the values of ``with_value``)."""
    out, i = [], start
    while i < len(argv):
        a = argv[i]
        if a is not None and a.startswith("-") and a != "-":
            i += 2 if a in with_value else 1
            continue
        out.append(a)
        i += 1
    return out


def option_value(argv, names):
    """The value of ``--name VALUE`` / ``--name=VALUE`` / ``-nVALUE`` (the last one wins)."""
    found = None
    for k, a in enumerate(argv):
        if a is None:
            continue
        for n in names:
            if a == n and k + 1 < len(argv):
                found = argv[k + 1]
            elif n.startswith("--") and a.startswith(n + "="):
                found = a[len(n) + 1:]
            elif len(n) == 2 and not n.startswith("--") and a.startswith(n) and len(a) > 2 and not a.startswith("--"):
                found = a[2:]
    return found


# --- git -------------------------------------------------------------------------------------------


def current_branch(ctx, folder):
    """The branch checked out in ``folder`` (walks up to .git; follows worktree gitdir files)."""
    key = ("branch", folder)
    if key in ctx.cache:
        return ctx.cache[key]
    branch = None
    path = folder
    for _ in range(40):
        if not path:
            break
        dot = os.path.join(path, ".git")
        head = None
        if os.path.isdir(dot):
            head = os.path.join(dot, "HEAD")
        elif os.path.isfile(dot):
            text = read_text(dot, ctx, 4096) or ""
            if text.startswith("gitdir:"):
                gitdir = text[7:].strip()
                head = os.path.join(gitdir if gitdir.startswith("/") else os.path.join(path, gitdir), "HEAD")
        if head:
            text = read_text(head, ctx, 4096) or ""
            if text.startswith("ref: refs/heads/"):
                branch = text[16:].strip()
            break
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    ctx.cache[key] = branch
    return branch


def protected(name, ctx):
    patterns = ctx.config.protected_branches if ctx.config else DEFAULT_PROTECTED
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def git(inv, cmd, ctx, depth, analyse):
    argv = inv.argv()
    folder, i = ctx.cwd, 0
    while i < len(argv) and argv[i] is not None and argv[i].startswith("-"):
        if argv[i] == "-C" and i + 1 < len(argv) and argv[i + 1]:
            target = argv[i + 1]
            folder = normalise(target if target.startswith("/") else os.path.join(folder or "/", target))
            i += 2
        else:
            i += 2 if argv[i] in ("-c", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(argv):
        return
    sub, rest = argv[i], argv[i + 1:]
    line = inv.line()
    if sub == "push":
        push(inv, rest, folder, ctx)
    elif sub == "reset" and "--hard" in rest:
        ctx.add("git-discard", "`%s` throws away every uncommitted change in the working tree" % line)
    elif sub == "clean":
        flags = [a for a in rest if a and a.startswith("-")]
        if (short_flag(flags, "f", ("--force",)) and not short_flag(flags, "n", ("--dry-run",))
                and short_flag(flags, "dxX")):
            ctx.add("git-discard", "`%s` deletes every untracked file and folder (never committed, so no copy)" % line)
    elif sub == "stash" and rest[:1] == ["clear"]:
        ctx.add("git-discard", "`%s` deletes every stash" % line)
    elif sub == "branch" and (short_flag([a for a in rest if a and a.startswith("-") and not a.startswith("--")], "D")
                              or ("--force" in rest and ("-d" in rest or "--delete" in rest))):
        names = [a for a in rest if a and not a.startswith("-")]
        if any(protected(n, ctx) for n in names):
            ctx.add("git-discard", "`%s` deletes the branch %s, even with unmerged commits" % (line, ", ".join(names)))
    elif sub in ("filter-branch", "filter-repo"):
        ctx.add("git-rewrite", "`%s` rewrites the repository's whole history" % line)
    elif (sub == "reflog" and "expire" in rest and any(a and a.startswith("--expire") and a.endswith(("=now", "=all"))
                                                        for a in rest)) \
            or (sub == "gc" and any(a and a.startswith("--prune=now") for a in rest)):
        ctx.add("git-rewrite", "`%s` deletes unreachable commits for good (no way back with the reflog)" % line)


def push(inv, rest, folder, ctx):
    line = inv.line()
    flags = [a for a in rest if a and a.startswith("-")]
    ops = operands_after(rest, 0, ("--repo", "-o", "--push-option", "--receive-pack", "--exec"))
    force = short_flag([f for f in flags if not f.startswith("--")], "f") or "--force" in flags
    lease = any(f.startswith(("--force-with-lease", "--force-if-includes")) for f in flags)
    deleting = "-d" in flags or "--delete" in flags
    if "--mirror" in flags:
        ctx.add("git-force-push-main", "`%s` makes the remote an exact mirror: every branch on it, main included, "
                "is overwritten or deleted" % line)
        return
    targets = []
    for ref in ops[1:]:
        if ref is None:
            targets.append((None, False, False))
            continue
        plus = ref.startswith("+")
        src, colon, dst = ref.lstrip("+").partition(":")
        name = dst if colon else src
        if name == "HEAD" or (not colon and src == "HEAD"):
            name = current_branch(ctx, folder)
        if name:
            name = name.replace("refs/heads/", "", 1)
        targets.append((name, plus, deleting or (colon and not src)))
    if not ops[1:]:
        names = ["(every branch)"] if ("--all" in flags or "--branches" in flags) else [current_branch(ctx, folder)]
        targets = [(n, False, deleting) for n in names]
    for name, plus, removes in targets:
        shown = name or "the current branch"
        is_main = name == "(every branch)" or (name is not None and protected(name, ctx))
        if removes and is_main:
            ctx.add("git-delete-main", "`%s` deletes %s on the remote" % (line, shown))
        elif (force or plus) and is_main:
            ctx.add("git-force-push-main", "`%s` force-pushes %s: commits others pushed there are lost; push a branch "
                    "and open a pull request instead" % (line, shown))
        elif (force or plus) and name is None:
            ctx.add("git-force-push", "`%s` force-pushes a branch the guard cannot tell (it may be main)" % line)
        elif lease and is_main:
            ctx.add("git-force-push", "`%s` rewrites the history of %s on the remote" % (line, shown))


# --- kubernetes ---------------------------------------------------------------------------------

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


def kubectl(inv, cmd, ctx, depth, analyse):
    argv = inv.argv()
    ops = operands_after(argv, 0, KUBECTL_VALUE)
    if not ops:
        return
    sub, line = ops[0], inv.line()
    if sub == "exec" and "--" in argv:
        words = inv.args[argv.index("--") + 1:]
        analyse(" ".join(quote(w) for w in words), ctx, depth + 1, inv.via + ["kubectl exec"])
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


def helm(inv, cmd, ctx, depth, analyse):
    argv = inv.argv()
    ops = operands_after(argv, 0, ("-n", "--namespace", "--kube-context", "--kubeconfig", "--timeout", "--repo"))
    if ops and ops[0] in ("uninstall", "delete", "del", "un"):
        _, where = production(ctx, inv, argv, "--kube-context")
        ctx.add("helm-uninstall", "`%s` removes the release %s and its resources in %s"
                % (inv.line(), " ".join(o for o in ops[1:] if o) or "?", where))


def terraform(inv, cmd, ctx, depth, analyse):
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


# --- databases -----------------------------------------------------------------------------------

SQL_FLAGS = {"psql": ("-c", "--command"), "usql": ("-c", "--command"), "mysql": ("-e", "--execute"),
             "mariadb": ("-e", "--execute"), "clickhouse-client": ("-q", "--query"), "clickhouse": ("-q", "--query"),
             "cockroach": ("-e", "--execute"), "sqlcmd": ("-Q", "-q"), "snowsql": ("-q", "--query"),
             "mongosh": ("--eval",), "mongo": ("--eval",), "cqlsh": ("-e", "--execute"), "bq": ()}
FILE_FLAGS = ("-f", "--file", "-i", "--input-file")


def database(inv, cmd, ctx, depth, analyse):
    from paii_hooks import sql
    from paii_hooks.analyse import stdin_source

    argv = inv.argv()
    texts = []
    for k, a in enumerate(argv):
        if a is None:
            continue
        for flag in SQL_FLAGS.get(inv.prog, ()):
            if a == flag and k + 1 < len(argv) and argv[k + 1] is not None:
                texts.append(argv[k + 1])
            elif a.startswith(flag + "=") and flag.startswith("--"):
                texts.append(a.split("=", 1)[1])
        if a in FILE_FLAGS and k + 1 < len(argv) and argv[k + 1] and inv.prog not in ("mongosh", "mongo"):
            texts.append(read_text(argv[k + 1], ctx) or "")
    ops = operands_after(argv, 0, ("-h", "--host", "-p", "--port", "-U", "-u", "--user", "--username", "-d",
                                   "--dbname", "-D", "--database", "-P", "-S", "--socket", "-W"))
    if inv.prog in ("sqlite3", "duckdb") and len(ops) >= 2:
        texts.extend(o for o in ops[1:] if o)
    if inv.prog == "bq" and ops[:1] == ["query"]:
        texts.extend(o for o in ops[1:] if o)
    src = stdin_source(cmd, ctx)
    if src and src[0] == "text":
        texts.append(src[1])
    for text in texts:
        for reason in sql.destructive(text):
            ctx.add("sql-destructive", "`%s` runs SQL that %s" % (inv.prog, reason))


def db_tools(inv, cmd, ctx, depth, analyse):
    argv = [a for a in inv.argv() if a is not None]
    line = inv.line()
    if inv.prog == "dropdb" and not any(a in ("--help", "-V", "--version") for a in argv):
        ctx.add("db-drop", "`%s` deletes a PostgreSQL database" % line)
    elif inv.prog == "mysqladmin" and "drop" in [a.lower() for a in argv]:
        ctx.add("db-drop", "`%s` deletes a MySQL database" % line)
    elif inv.prog == "redis-cli" and any(a.lower() in ("flushall", "flushdb") for a in argv):
        ctx.add("db-drop", "`%s` deletes every key" % line)


# --- cloud, containers, PAII -----------------------------------------------------------------------

AWS_DELETES = frozenset("""terminate-instances delete-db-instance delete-db-cluster delete-table delete-stack
delete-cluster delete-bucket delete-file-system delete-volume delete-hosted-zone delete-repository delete-secret
schedule-key-deletion delete-nodegroup delete-db-snapshot delete-global-table delete-domain""".split())


def cloud(inv, cmd, ctx, depth, analyse):
    argv = [a for a in inv.argv() if a is not None]
    ops = operands_after(argv, 0, ("--profile", "--region", "--output", "--project", "--zone", "-g",
                                   "--resource-group", "--subscription", "--endpoint-url", "--query"))
    flags = [a for a in argv if a.startswith("-")]
    line = inv.line()
    recursive = short_flag([f for f in flags if not f.startswith("--")], "rR") or "--recursive" in flags
    hit = False
    if inv.prog == "aws":
        hit = (ops[:2] == ["s3", "rm"] and recursive) or ops[:2] == ["s3", "rb"] or (len(ops) > 1 and ops[1] in AWS_DELETES)
    elif inv.prog == "gsutil":
        hit = (ops[:1] == ["rm"] and recursive) or ops[:1] == ["rb"]
    elif inv.prog == "gcloud":
        hit = "delete" in ops or (ops[:2] == ["storage", "rm"] and recursive)
    elif inv.prog in ("az", "doctl"):
        hit = "delete" in ops
    if hit:
        ctx.add("cloud-delete", "`%s` deletes cloud resources or data" % line)


DOCKER_EXEC_VALUE = ("-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file", "--detach-keys")


def docker(inv, cmd, ctx, depth, analyse):
    argv = [a for a in inv.argv() if a is not None]
    if argv[:1] == ["exec"] or argv[:2] == ["container", "exec"]:
        start = 1 if argv[0] == "exec" else 2
        i = start
        while i < len(inv.args) and (inv.args[i].static() or "-").startswith("-"):
            i += 2 if inv.args[i].static() in DOCKER_EXEC_VALUE else 1
        words = inv.args[i + 1:]  # after the container's name
        if words:
            analyse(" ".join(quote(w) for w in words), ctx, depth + 1, inv.via + ["%s exec" % inv.prog])
        return
    ops = operands_after(argv, 0, ("-f", "--file", "-p", "--project-name", "--context", "-H", "--host"))
    flags = [a for a in argv if a.startswith("-")]
    volumes = "-v" in flags or "--volumes" in flags
    if (ops[:2] == ["system", "prune"] and ("-a" in flags or "--all" in flags or volumes)) \
            or ops[:2] in (["volume", "prune"], ["volume", "rm"]) \
            or (("down" in ops[:2]) and volumes and (inv.prog == "docker-compose" or ops[:1] == ["compose"])):
        ctx.add("docker-prune", "`%s` deletes volumes or every unused image and container" % inv.line())


def paii(inv, cmd, ctx, depth, analyse):
    ops = operands_after(inv.argv(), 0, ())
    if "runbook" in ops:
        after = ops[ops.index("runbook") + 1:]
        if after[:1] == ["approve"]:
            ctx.add("paii-approve", "`%s` would approve a runbook step on the person's behalf. Approvals are the "
                    "person's: show them the step and ask them to run `paii runbook approve` in their own terminal "
                    "(or answer the approval prompt)" % inv.line())


CHECKS = {
    "git": git, "kubectl oc k": kubectl, "helm": helm,
    "terraform tofu terragrunt pulumi cdk serverless sls": terraform,
    " ".join(SQL_FLAGS) + " sqlite3 duckdb": database, "dropdb mysqladmin redis-cli": db_tools,
    "aws gsutil gcloud az doctl": cloud, "docker podman docker-compose nerdctl": docker, "paii": paii,
}
