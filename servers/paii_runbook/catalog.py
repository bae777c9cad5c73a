"""Where runbooks are found, and loading one by name (parsed and linted, cached by the file's identity).

A runbook folder may be someone else's repository: one bad file (a symlink out of the folder or
in a loop, a FIFO, a file too large, YAML that would never finish) becomes that runbook's one
listed problem, with its path and what is wrong, and every other runbook still works
(:mod:`paii_runbook.files` reads it, :mod:`paii_runbook.yamlsafe` bounds its YAML).
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from paii_common.errors import InvalidInput, NotFound
from paii_common.redact import redact
from paii_runbook import files as runbook_files
from paii_runbook.config import SHIPPED_DIR, RunbookSettings
from paii_runbook.format import NAME, Problem, Runbook, parse
from paii_runbook.lint import lint

log = logging.getLogger("paii.runbook")

MAX_RUNBOOKS = 500
#: how long one listing may spend parsing new or changed files (a tool call has PAII_READ_TIMEOUT, 15 s)
LIST_SECONDS = 8.0


@dataclass
class Loaded:
    runbook: Runbook
    problems: list[Problem]
    source: str

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class Catalog:
    def __init__(self, settings: RunbookSettings) -> None:
        self.settings = settings
        self._cache: dict[Path, tuple[runbook_files.Key, Loaded]] = {}

    def source_label(self, folder: Path) -> str:
        if folder == SHIPPED_DIR:
            return "shipped with PAII"
        if folder == self.settings.home / "runbooks":
            return "$PAII_HOME/runbooks"
        return str(folder)

    def files(self) -> dict[str, tuple[Path, str, Path]]:
        """name -> (file, where it was found, its folder); the first folder that has a name wins."""
        found: dict[str, tuple[Path, str, Path]] = {}
        for folder in self.settings.runbook_dirs():
            try:
                if not folder.is_dir():
                    continue
                paths = sorted(folder.glob("*.md"))
            except OSError as exc:  # an unreadable folder hides its own runbooks only
                log.warning("runbook folder %s cannot be listed: %s", folder, exc)
                continue
            for path in paths:
                if path.name.lower() == "readme.md" or path.stem in found:
                    continue
                found[path.stem] = (path, self.source_label(folder), folder)
                if len(found) >= MAX_RUNBOOKS:
                    return found
        return found

    def load_path(self, path: Path, source: str = "", folder: Path | None = None) -> Loaded:
        """The runbook in ``path`` (which must stay inside ``folder`` when given), parsed and linted;
        a file that cannot be read safely is a runbook with that one problem. Never raises."""
        hit = self._cache.get(path)
        try:
            key, text = runbook_files.read(path, folder, self.settings.max_file_kb * 1024,
                                           unchanged=lambda k: bool(hit and hit[0] == k))
        except runbook_files.Unreadable as exc:
            self._cache.pop(path, None)
            return Loaded(Runbook(path.stem, path, ""), [Problem(1, "error", redact(f"{path.name} {exc}"))], source)
        if text is None and hit:
            return hit[1]
        try:
            rb = parse(path, text or "")
            problems = lint(rb)
        except Exception as exc:  # a bug here must cost this runbook, not every runbook
            log.exception("runbook %s could not be parsed", path)
            rb, problems = Runbook(path.stem, path, text or ""), [
                Problem(1, "error", f"{path.name} could not be parsed ({type(exc).__name__}): a PAII bug; "
                                    "please report it with the file")]
        loaded = Loaded(rb, problems, source)
        self._cache[path] = (key, loaded)
        return loaded

    def get(self, name: str) -> Loaded:
        raw = (name or "").strip()
        key = raw[:-3] if raw.lower().endswith(".md") else raw
        key = key.lower()
        if not NAME.match(key):
            raise InvalidInput(f"runbook name {raw[:80]!r} is not valid: use a name list_runbooks shows, e.g. database-failover")
        files = self.files()
        if key not in files:
            close = difflib.get_close_matches(key, list(files), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"no runbook {key!r}.{hint} list_runbooks or find_runbooks shows what exists "
                           f"(folders: {', '.join(str(d) for d in self.settings.runbook_dirs())}).")
        path, source, folder = files[key]
        return self.load_path(path, source, folder)

    def all(self, seconds: float | None = None) -> list[Loaded]:
        """Every runbook found. Parsing new or changed files stops after ``seconds`` (each file is bounded,
        but a folder may hold hundreds): the rest are listed as not read yet, and the next call goes on."""
        seconds = LIST_SECONDS if seconds is None else seconds
        deadline = time.monotonic() + seconds
        out, parsed = [], False
        for path, source, folder in self.files().values():
            cached = path in self._cache
            if parsed and not cached and time.monotonic() > deadline:  # each call reads at least one new file
                out.append(Loaded(Runbook(path.stem, path, ""), [Problem(1, "error", (
                    f"{path.name} not read yet: reading the runbook folders took over {seconds:g} s; "
                    "list again to read the rest"))], source))
                continue
            out.append(self.load_path(path, source, folder))
            parsed = parsed or not cached
        return out
