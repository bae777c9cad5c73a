"""Team mode's shared files: the history folder as a git repository (``PAII_HISTORY_GIT=1``).

Each person's server (or CLI) works on its own clone of one team repository. The rules:

* **Every write is a commit** of the files it wrote, authored by the actor (the token's name over
  HTTP, the local user over stdio; committed by "PAII history"), then **pushed** at once. When the
  push fails (the remote is down, the network is slow), the write is kept and committed here, the
  write's result says it was not pushed, and the commits wait for the next write or pull.
* **Reads pull** (fetch, merge) when the last pull is older than ``PAII_HISTORY_GIT_PULL_S``
  seconds (30): one call pulls, the others read what is here meanwhile; an unreachable remote
  never fails a read (its answer carries a warning). What a pull brings is indexed at once.
* **No conflict for new entries**: an entry is one file with a unique id, so two people's
  captures of the same minute are two new files, and the merge is automatic.
* **An entry changed on both sides keeps both versions**: this side's stays ``<id>.md``, the
  other side's is saved beside it as ``<id>.conflict-<their author>.md`` (never indexed, listed by
  ``paii history stats`` and in the result of the write that met it) and the merge is committed,
  so both clones end up with the same two files. A person merges them by hand and deletes the
  ``.conflict-`` file. An entry deleted on one side and changed on the other is kept, changed.

Git runs as a subprocess (argument lists, never a shell string) with a timeout
(``PAII_HISTORY_GIT_TIMEOUT``), never prompting for credentials. The repository's own settings
(remote, branch, credentials helper, ssh keys) are used as they are: ``git clone URL
$PAII_HOME/history`` makes a server a member of the team; a history folder that is not a
repository yet becomes one (its entries committed) and commits locally until it gets a remote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: what git push says when another clone pushed first (or at the same moment): merge and push again
RACING = ("[rejected]", "non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref")
PUSH_ATTEMPTS = 5  # a push the remote rejects because another clone pushed first is merged and tried again
CONFLICT_RE = re.compile(r"\.conflict-[A-Za-z0-9._@-]+\.md$")
COMMITTER = "PAII history"


def is_conflict_file(name: str) -> bool:
    """``<id>.conflict-<author>.md``: the other side's version of an entry, not an entry."""
    return bool(CONFLICT_RE.search(name))


class GitError(Exception):
    """A git command failed or did not finish; the message says which and why (one line)."""


@dataclass
class Merged:
    changed: bool = False  # the merge brought files
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (entry path, conflict file, their author)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "-", name).strip("-.")[:40] or "unknown"


class GitSync:
    """The git side of one history folder. No I/O until the first call."""

    def __init__(self, root: Path, *, remote: str = "origin", pull_every: float = 30.0, timeout: float = 10.0) -> None:
        self.root = root
        self.remote = remote
        self.pull_every = pull_every
        self.timeout = timeout
        self.lock = threading.RLock()  # one git command sequence at a time in this process
        self._pulling = threading.Lock()
        self._pulled_at = -1e18  # monotonic time of the last pull attempt
        self.last_pull: float | None = None  # wall time of the last successful fetch
        self.problem: str | None = None  # why the remote could not be reached last time
        self._ready = False
        self._uncommitted: list[tuple[list[str], str | None, str]] = []  # commits that failed, tried again

    # ------------------------------------------------------------------ running git
    def _env(self, author: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_MERGE_AUTOEDIT="no")
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        host = socket.gethostname() or "localhost"
        env.update(GIT_COMMITTER_NAME=COMMITTER, GIT_COMMITTER_EMAIL=f"paii@{host}")
        name = author or COMMITTER
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=f"{_slug(name)}@paii" if author else f"paii@{host}")
        return env

    def git(self, *args: str, check: bool = True, author: str | None = None, timeout: float | None = None,
            binary: bool = False) -> subprocess.CompletedProcess:
        cmd = ["git", "-C", str(self.root), "-c", "core.quotepath=off", "-c", "commit.gpgsign=false", *args]
        limit = timeout or self.timeout
        try:
            done = subprocess.run(cmd, capture_output=True, text=not binary, timeout=limit, env=self._env(author),
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} did not finish within {limit:g} s (PAII_HISTORY_GIT_TIMEOUT)") from None
        except FileNotFoundError:
            raise GitError("git is not installed: install it, or unset PAII_HISTORY_GIT") from None
        if check and done.returncode != 0:
            err = done.stderr.decode(errors="replace") if binary else done.stderr
            last = next((ln.strip() for ln in reversed(err.splitlines()) if ln.strip()), f"exit {done.returncode}")
            raise GitError(f"git {args[0]} failed: {last[:300]}")
        return done

    def _out(self, *args: str) -> str:
        return self.git(*args).stdout.strip()

    def ensure(self) -> None:
        """Make the history folder a repository if it is not one yet (its entries committed)."""
        if self._ready:
            return
        with self.lock:
            if self._ready:
                return
            self.root.mkdir(parents=True, exist_ok=True)
            if not (self.root / ".git").exists():
                self.git("init", "-q", "-b", "main")
                log.warning("history: %s is now a git repository (PAII_HISTORY_GIT=1); commits stay here until it "
                            "has a remote: git -C %s remote add origin URL", self.root, self.root)
                if any(p for p in self.root.rglob("*.md") if ".git" not in p.parts):
                    self.git("add", "-A", "--", "*.md")
                    self.git("commit", "-q", "-m", "history: the entries as they were when git was switched on", check=False)
            self._ready = True

    # ------------------------------------------------------------------ facts
    def branch(self) -> str:
        done = self.git("symbolic-ref", "--short", "-q", "HEAD", check=False)
        return done.stdout.strip() or "main"

    def remote_url(self) -> str | None:
        done = self.git("remote", "get-url", self.remote, check=False)
        return done.stdout.strip() or None if done.returncode == 0 else None

    def _tracking(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch()}"

    def _has(self, ref: str) -> bool:
        return self.git("rev-parse", "--verify", "-q", ref, check=False).returncode == 0

    def unpushed(self) -> int:
        """Commits here that the remote does not have yet."""
        if not self._has("HEAD"):
            return 0
        spec = f"{self._tracking()}..HEAD" if self._has(self._tracking()) else "HEAD"
        done = self.git("rev-list", "--count", spec, check=False)
        return int(done.stdout.strip() or 0) if done.returncode == 0 else 0

    def conflict_files(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.conflict-*.md")
                      if is_conflict_file(p.name) and ".git" not in p.parts)

    # ------------------------------------------------------------------ writing
    def commit(self, paths: list[str], author: str | None, message: str) -> None:
        """Commit these files (relative to the history folder), after any earlier write whose commit
        failed (each with its own author). The caller holds the store's write lock."""
        if not paths:
            return
        self.ensure()
        with self.lock:
            todo, self._uncommitted = [*self._uncommitted, (paths, author, message)], []
            for n, (files, who, text) in enumerate(todo):
                try:
                    self._commit(files, who, text)
                except GitError:
                    self._uncommitted = todo[n:]
                    raise

    def _commit(self, paths: list[str], author: str | None, message: str) -> None:
        self.git("add", "-A", "--", *paths)
        done = self.git("commit", "-q", "--no-verify", "-m", message, "--", *paths, author=author, check=False)
        if done.returncode != 0 and "nothing" not in (done.stdout + done.stderr):
            why = (done.stderr or done.stdout).strip().splitlines()
            raise GitError(f"git commit failed: {(why[-1] if why else 'exit ' + str(done.returncode))[:300]}")

    # ------------------------------------------------------------------ the remote
    def due(self) -> bool:
        return time.monotonic() - self._pulled_at >= self.pull_every

    @contextlib.contextmanager
    def pulling(self, *, wait: bool):
        """Held while one thread pulls; ``wait=False`` yields False at once when another is pulling."""
        got = self._pulling.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                self._pulling.release()

    def fetch(self) -> bool:
        """Fetch the remote's branch (network: no store lock needed). False when there is no remote;
        GitError when it cannot be reached (also kept in :attr:`problem`)."""
        self.ensure()
        self._pulled_at = time.monotonic()
        if self.remote_url() is None:
            return False
        try:
            self.git("fetch", "-q", "--no-tags", self.remote)
        except GitError as exc:
            self.problem = f"{exc} (at {time.strftime('%H:%M:%S')})"
            raise
        self.problem = None
        self.last_pull = time.time()
        return True

    def merge(self) -> Merged:
        """Merge what :meth:`fetch` brought. The caller holds the store's write lock."""
        out = Merged()
        with self.lock:
            theirs = self._tracking()
            if not self._has(theirs):
                return out  # the remote has no such branch yet: the first push creates it
            before = self.git("rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
            # unrelated histories: two clones of an empty repository that both wrote first (files are per entry)
            done = self.git("merge", "-q", "--no-edit", "--allow-unrelated-histories", theirs, check=False)
            if done.returncode != 0:
                unmerged = [p for p in self.git("diff", "--name-only", "--diff-filter=U", "-z").stdout.split("\0") if p]
                if not unmerged:
                    self.git("merge", "--abort", check=False)
                    why = (done.stderr or done.stdout).strip().splitlines()
                    raise GitError(f"git merge failed: {(why[-1] if why else 'exit ' + str(done.returncode))[:300]}")
                for path in unmerged:
                    conflict = self._resolve(path)
                    if conflict:
                        out.conflicts.append(conflict)
                self.git("commit", "-q", "--no-verify", "--no-edit")
            after = self.git("rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
            out.changed = before != after
        for path, saved, who in out.conflicts:
            log.warning("history: %s was changed here and by %s: both kept (theirs in %s)", path, who, saved)
        return out

    def _resolve(self, path: str) -> tuple[str, str, str] | None:
        """Settle one conflicted file: keep ours, save theirs beside it (see the module's docstring)."""
        stages = {line.split()[2] for line in self.git("ls-files", "-u", "--", path).stdout.splitlines() if line}
        if "2" in stages and "3" in stages:
            theirs = self.git("show", f":3:{path}", binary=True).stdout
            who = self.git("log", "-1", "--format=%an", "MERGE_HEAD", "--", path, check=False).stdout.strip() or "unknown"
            stem = path[: -len(".md")] if path.endswith(".md") else path
            saved, n = f"{stem}.conflict-{_slug(who)}.md", 2
            while (self.root / saved).exists():
                saved, n = f"{stem}.conflict-{_slug(who)}-{n}.md", n + 1
            (self.root / saved).write_bytes(theirs)
            self.git("checkout", "--ours", "--", path)
            self.git("add", "--", path, saved)
            return path, saved, who
        if "3" in stages:  # deleted here, changed there: keep the change
            self.git("checkout", "--theirs", "--", path)
        self.git("add", "-A", "--", path)
        return None

    def push(self) -> None:
        """Push the commits the remote does not have. GitError when it cannot (kept in :attr:`problem`);
        a rejection because the remote moved on is GitError too, starting with "rejected"."""
        with self.lock:
            if self.remote_url() is None or not self.unpushed():
                return
            branch = self.branch()
        done = self.git("push", "-q", "--porcelain", self.remote, f"HEAD:refs/heads/{branch}", check=False)
        if done.returncode == 0:
            self.problem = None
            return
        text = (done.stdout + "\n" + done.stderr).strip()
        if any(sign in text for sign in RACING):
            raise GitError("rejected: the team repository has commits this clone does not have yet")
        refused = [ln.split("\t")[-1] for ln in done.stdout.splitlines() if ln.startswith("!")]
        lines = [ln.strip() for ln in done.stderr.splitlines()
                 if ln.strip() and not ln.startswith(("hint:", "To ", "error: failed to push some refs"))]
        why = (refused or lines or [f"exit {done.returncode}"])[-1]
        self.problem = f"git push failed: {why[:300]} (at {time.strftime('%H:%M:%S')})"
        raise GitError(self.problem)


class GitMixin:
    """The store's side of team mode (a part of :class:`~paii_history.store.HistoryStore`):
    pull before reads, commit and push after writes, and what to tell the caller."""

    git: GitSync | None

    def _git_refresh(self) -> list[str]:
        """Pull when the last pull is old enough (one thread at a time; the others go on with
        what is here). Returns notes for a write's result: the conflicts the merge met."""
        git = self.git
        if git is None or not git.due():
            return []
        with git.pulling(wait=False) as mine:
            return self._git_pull() if mine else []

    def _git_pull(self) -> list[str]:
        git = self.git
        try:
            if not git.fetch():
                return []
            with self._write_lock():
                merged = git.merge()
                if merged.changed:
                    self.sync(background=True)  # what the pull brought is searchable at once
        except GitError as exc:
            git.problem = git.problem or str(exc)
            log.warning("history: pulling the team repository: %s", exc)
            return []
        with contextlib.suppress(GitError):
            git.push()  # commits that waited for the remote
        return [conflict_note(*c) for c in merged.conflicts]

    def _git_commit(self, paths: list[str], author: str | None, message: str) -> list[str]:
        """Commit a write's files (the caller holds the write lock); a failure is a note, never fatal."""
        if self.git is None:
            return []
        try:
            self.git.commit(paths, author, message)
        except GitError as exc:
            log.warning("history: %s", exc)
            return [f"saved, but not committed to the history's git repository ({exc}); it is committed with the next write"]
        return []

    def _git_publish(self) -> list[str]:
        """Push after a write; when the remote moved on, pull (merge) and push again."""
        git = self.git
        if git is None:
            return []
        notes: list[str] = []
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                git.push()
                return notes
            except GitError as exc:
                if str(exc).startswith("rejected") and attempt < PUSH_ATTEMPTS:
                    # another clone pushed first (two people writing at once): merge theirs, push again
                    time.sleep(random.uniform(0, 0.05 * attempt))
                    with git.pulling(wait=True):
                        notes += self._git_pull()
                    continue
                waiting = git.unpushed()
                notes.append(f"saved and committed here, but not pushed to the team repository ({exc}): "
                             f"{waiting} commit(s) wait here and are pushed with the next write or pull")
                return notes
        return notes

    def git_warnings(self) -> list[str]:
        """For a read's answer: the team repository could not be reached the last time."""
        git = self.git
        if git is None or not git.problem:
            return []
        return [f"this is this server's copy of the history, which may miss the team's latest entries: "
                f"the team repository could not be reached ({git.problem})"]

    def git_stats(self) -> dict | None:
        git = self.git
        if git is None:
            return None
        git.ensure()
        return {
            "repository": str(git.root),
            "remote": git.remote_url(),
            "branch": git.branch(),
            "last_pull": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(git.last_pull)) if git.last_pull else None,
            "unpushed_commits": git.unpushed(),
            "problem": git.problem,
            "conflicts": git.conflict_files(),
        }


def conflict_note(path: str, saved: str, who: str) -> str:
    return (f"{path} was also changed by {who} in the team repository: both versions are kept, this one in {path} "
            f"and theirs in {saved}. Merge them by hand into {path} and delete {saved}.")
