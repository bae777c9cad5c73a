"""Where runbooks are found, and loading one by name (parsed and linted, cached by mtime)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from paii_common.errors import InvalidInput, NotFound
from paii_runbook.config import SHIPPED_DIR, RunbookSettings
from paii_runbook.format import NAME, Problem, Runbook
from paii_runbook.lint import lint_file

MAX_RUNBOOKS = 500


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
        self._cache: dict[Path, tuple[tuple[int, int], Loaded]] = {}

    def source_label(self, folder: Path) -> str:
        if folder == SHIPPED_DIR:
            return "shipped with PAII"
        if folder == self.settings.home / "runbooks":
            return "$PAII_HOME/runbooks"
        return str(folder)

    def files(self) -> dict[str, tuple[Path, str]]:
        """name -> (file, where it was found); the first folder that has a name wins."""
        found: dict[str, tuple[Path, str]] = {}
        for folder in self.settings.runbook_dirs():
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.md")):
                if path.name.lower() == "readme.md" or path.stem in found:
                    continue
                found[path.stem] = (path, self.source_label(folder))
                if len(found) >= MAX_RUNBOOKS:
                    return found
        return found

    def load_path(self, path: Path, source: str = "") -> Loaded:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path)
        if hit and hit[0] == key:
            return hit[1]
        rb, problems = lint_file(path)
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
        path, source = files[key]
        return self.load_path(path, source)

    def all(self) -> list[Loaded]:
        return [self.load_path(p, src) for p, src in self.files().values()]
