"""The guard's rules: the catalogue (id -> decision, what it stops) and the dispatch by program
(each ``rules_*`` module maps program names to checks; ``code_rules`` reads interpreter code).

Decisions: ``block`` (the command is not run; the reason goes back to the assistant) and
``ask`` (Claude Code asks the person). The person's guard.toml can disable a rule by id, add
rules, and allow exact commands; rules in :data:`LOCKED` cannot be turned off there, because
they protect the person's own decisions (approving a runbook step, the guard's settings).
"""

from paii_hooks.expand import resolve
from paii_hooks import rules_data, rules_fs, rules_git, rules_hidden, rules_infra, rules_machine, rules_paii

CATALOGUE = {
    "rm-root": ("block", "rm -r of / or everything in it"),
    "rm-system": ("block", "rm -r of a system folder (/etc, /usr, /var, /home ...)"),
    "rm-home": ("block", "rm -r of a home folder or everything in it"),
    "rm-system-path": ("ask", "deleting inside a system folder (/var/lib/x, /etc/x, /tmp ...)"),
    "rm-home-path": ("ask", "rm -r of a top-level or key folder of the home (~/Documents, ~/.ssh, ~/.kube ...)"),
    "rm-cwd": ("ask", "rm -r of the working folder, a folder above it, or everything in it"),
    "rm-unset-var": ("ask", "rm -r of \"$VAR\", \"$VAR/\" or \"$VAR/*\" (the root folder when VAR is empty)"),
    "rm-git": ("ask", "deleting a .git folder (the repository's history)"),
    "rm-unknown-targets": ("ask", "rm -r of paths piped in (xargs) from a source the guard cannot see"),
    "find-delete": ("block", "find / (or a system or home folder) with -delete or -exec rm and no filter"),
    "find-delete-path": ("ask", "find -delete / -exec rm over a system or home folder"),
    "chmod-system": ("block", "chmod/chown/chgrp -R of /, a system folder or the home folder"),
    "chmod-system-path": ("ask", "chmod/chown of system paths, or world-writable modes on them"),
    "disk-overwrite": ("block", "dd, shred, cp, cat or > onto a disk device"),
    "disk-format": ("block", "mkfs, mkswap, wipefs, blkdiscard, cryptsetup luksFormat, diskutil erase on a disk device"),
    "disk-partition": ("ask", "fdisk, sfdisk, parted (also with -s), sgdisk changing a disk's partitions"),
    "volume-remove": ("ask", "zpool/zfs destroy, lvremove/vgremove/pvremove: deleting storage volumes and their data"),
    "mv-system": ("block", "moving /, a system folder or the home folder"),
    "mv-away": ("ask", "moving a system file, a data folder (/var/lib/postgresql ...) or a key folder of the home (~/.ssh ...) away"),
    "home-keys": ("ask", "deleting or overwriting files that hold keys and logins (~/.ssh, ~/.gnupg, ~/.aws, ~/.kube ...)"),
    "write-system-file": ("ask", "writing or replacing files in a system folder (> /etc/x, tee, cp, sed -i, truncate)"),
    "rsync-delete": ("block", "rsync --delete onto /, a system folder or the home folder"),
    "fork-bomb": ("block", "a fork bomb that runs (a function that starts itself twice, fork while fork); quoted, it is data"),
    "kill-all": ("block", "kill -9 -1 or kill 1 (every process, or init)"),
    "shutdown": ("ask", "shutdown, reboot, halt, poweroff, init 0/6"),
    "crontab-remove": ("ask", "crontab -r (deletes every cron job of the user)"),
    "firewall-flush": ("ask", "iptables -F, nft flush ruleset, ufw reset (can lock everyone out)"),
    "git-force-push-main": ("block", "git push --force (or +refspec, --mirror) to main/master"),
    "git-delete-main": ("block", "deleting main/master on a remote"),
    "git-force-push": ("ask", "git push --force-with-lease to main/master, or a force push to a branch the guard cannot tell"),
    "git-discard": ("ask", "git reset --hard, git checkout -- . / -f, git restore ., git clean -f -d/-x, git stash clear/drop, "
                    "git branch -D main (lose work)"),
    "git-rewrite": ("ask", "git filter-branch / filter-repo, reflog expire --expire=now, gc --prune=now"),
    "kubectl-delete-system": ("block", "deleting kube-system/default namespaces, or --all in every namespace"),
    "kubectl-delete-data": ("ask", "kubectl delete of namespaces, PVs, PVCs, CRDs, nodes, storage classes, cluster roles"),
    "kubectl-delete-prod": ("ask", "kubectl delete in a production context or namespace (or one the guard cannot tell)"),
    "kubectl-scale-zero": ("ask", "kubectl scale --replicas=0 in a production context (or one the guard cannot tell)"),
    "kubectl-drain": ("ask", "kubectl drain/cordon/taint in a production context (or one the guard cannot tell)"),
    "helm-uninstall": ("ask", "helm uninstall/delete of a release"),
    "terraform-destroy": ("ask", "terraform/tofu/terragrunt destroy, apply -destroy, state rm, pulumi/cdk destroy"),
    "terraform-auto-approve": ("ask", "terraform apply -auto-approve (changes infrastructure with no plan review)"),
    "sql-destructive": ("ask", "DROP, TRUNCATE, DELETE or UPDATE without WHERE sent to a database client"),
    "db-drop": ("ask", "dropdb, mysqladmin drop, redis FLUSHALL/FLUSHDB, mongo dropDatabase"),
    "cloud-delete": ("ask", "aws s3 rm --recursive / rb / sync --delete to a bucket, aws delete-*, gsutil rm -r / rsync -d, "
                     "gcloud/az/doctl ... delete, eksctl delete, rclone purge/sync"),
    "docker-prune": ("ask", "docker system/volume prune, docker volume rm, compose down -v (deletes volumes)"),
    "remote-script": ("ask", "code downloaded from the internet run at once (curl | sh, bash <(curl), eval \"$(wget)\")"),
    "decoded-script": ("ask", "code decoded or rewritten just before it runs (base64 -d | sh, xxd -r | bash)"),
    "hidden-script": ("ask", "a shell or interpreter running code the guard cannot see (cmd | bash, eval \"$(cmd)\")"),
    "computed-script": ("ask", "bash -c / eval of a variable's text"),
    "computed-command": ("ask", "a program name only known at run time, on a line with dangerous words"),
    "unreadable": ("ask", "a command the guard cannot parse that contains dangerous words"),
    "paii-approve": ("block", "paii runbook approve run by the assistant (approvals are the person's)"),
    "paii-approve-indirect": ("ask", "a command that may reach PAII's approval path another way (it mentions paii and "
                              "approve, runs PAII's modules by path, drives paii through script/expect/tmux)"),
    "paii-run-state": ("ask", "reading or changing PAII's run state or approval key (runbooks/runs/, approval.key), or "
                       "copying or deleting PAII's folders"),
    "claude-settings": ("ask", "changing Claude Code's settings or an installed plugin's files (a hook there could "
                        "answer approvals)"),
    "guard-config": ("ask", "changing the PAII guard's own settings (guard.toml / guard.json)"),
}
LOCKED = frozenset({"paii-approve", "paii-approve-indirect", "paii-run-state", "claude-settings", "guard-config"})

CHECKS = {}
for _module in (rules_fs, rules_machine, rules_git, rules_infra, rules_data, rules_paii, rules_hidden):
    for _prog, _fn in _module.CHECKS.items():
        for _name in _prog.split():
            CHECKS.setdefault(_name, []).append(_fn)



def check_redirects(cmd, ctx):
    """Files a command (or a compound: ``} > x``) writes with > and reads with <."""
    for op, word in cmd.redirs:
        target = resolve(word, ctx, split=False)[0] if word.parts else word
        if op in (">", ">>", ">|", "&>", "&>>", "<>"):
            rules_fs.check_write_target(target, ctx, op + " " + target.text())
        elif op == "<":
            rules_paii.check_path_word(target, None, ctx, shown="< " + target.text())


def check_program(inv, cmd, ctx, depth):
    for fn in CHECKS.get(inv.prog, ()):
        fn(inv, cmd, ctx, depth)
    if inv.prog.startswith("mkfs"):
        rules_machine.mkfs(inv, cmd, ctx, depth)
    config = ctx.config
    if config and config.rules:
        line = inv.line()
        for rule in config.rules:
            if rule["command"] and rule["command"] != inv.prog:
                continue
            if rule["regex"].search(line):
                ctx.add(rule["id"], rule["reason"] + " (your rule %s in %s)" % (rule["id"], config.path))


def check_generic(inv, cmd, ctx):
    """Checks for every program the line runs, whatever it is (PAII's approval path and state)."""
    rules_paii.check_generic(inv, cmd, ctx)
