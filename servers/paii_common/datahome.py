"""Move the PAII data an older plugin kept in Claude Code's plugin data folder into the data home.

Up to PAII 0.1 the plugin's servers used ``${CLAUDE_PLUGIN_DATA}`` as ``PAII_HOME``, while the
CLI and other editors used the per-user data folder: two memories. Now everything uses
:func:`paii_common.config.paii_home`, and the plugin data folder keeps only the plugin's own
files (venvs, tools, install.log; ``bin/_paii_launch.py`` lists them). The launchers run

    python -m paii_common.datahome --from <plugin data folder>

before any PAII code opens the data home, when the folder holds anything else. It moves each
such entry into the data home: a folder that does not exist there is renamed (or copied, across
file systems); one that exists is merged file by file. On a name clash the file that is
byte-for-byte the same is dropped, and a different one is kept beside the other as
``<name>.from-plugin<suffix>`` (``INC-456.md`` -> ``INC-456.from-plugin.md``; ``.2``, ``.3`` ...
if that is taken too): nothing is lost. The history index (``index/``) is derived from the
markdown files: when the data home has its own, the old one is deleted and the history server
brings the home's index up to date with the moved files on its next start.

Six servers start at once: a lock (``data-home.lock`` in the plugin data folder) lets one move
and the others wait, then find nothing left. What was moved is written to ``install.log`` and to
``data-home.json`` (the record the plugin's front reads to tell the person once, in the first
history tool result of a session; ``announced`` says whether that happened). Standard library
plus :func:`~paii_common.config.paii_home`; never raises for one entry it cannot move (it stays
where it was and the log says why).
"""

from __future__ import annotations

import argparse
import fcntl
import filecmp
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: the plugin's own files (bin/_paii_launch.py PLUGIN_OWN repeats it; a test checks they agree)
PLUGIN_OWN = frozenset({"venvs", "venv", "tools", "install.log", "install-stats.json", "venv.lock", "pycache", "logs",
                        ".model-fetch", "data-home.json", "data-home.lock", "run"})
RECORD = "data-home.json"
LOCK = "data-home.lock"
DERIVED = frozenset({"index"})  # rebuilt from the markdown files: never merged


@dataclass
class Moved:
    """What one run moved: files placed, identical duplicates dropped, clashes kept side by side."""

    home: Path
    files: int = 0
    duplicates: int = 0
    kept_both: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dropped_index: bool = False

    def summary(self, source: Path) -> str:
        if not self.entries and not self.problems:
            return ""
        text = (f"moved PAII's data from the plugin data folder {source} into the data home {self.home}: "
                f"{', '.join(self.entries) or 'nothing'} ({self.files} files")
        if self.duplicates:
            text += f"; {self.duplicates} identical copies dropped"
        if self.kept_both:
            text += f"; {len(self.kept_both)} different versions kept side by side as *.from-plugin*"
        text += ")"
        if self.dropped_index:
            text += "; the history index is rebuilt from the files"
        if self.problems:
            text += "; NOT moved: " + "; ".join(self.problems)
        return text


def _free_name(path: Path) -> Path:
    """``a.from-plugin.md`` for ``a.md``, then ``a.from-plugin.2.md`` ... : a name not taken yet."""
    stem, suffix = (path.stem, path.suffix) if path.suffix and len(path.suffix) <= 10 else (path.name, "")
    n = 1
    while True:
        tag = ".from-plugin" if n == 1 else f".from-plugin.{n}"
        candidate = path.with_name(f"{stem}{tag}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _count_files(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return 1
    return sum(len(files) for _, _, files in os.walk(path))


def _move_file(src: Path, dst: Path, moved: Moved) -> None:
    if not os.path.lexists(dst):
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(dst))
        moved.files += 1
        return
    if src.is_file() and dst.is_file() and not src.is_symlink() and filecmp.cmp(src, dst, shallow=False):
        src.unlink()
        moved.duplicates += 1
        return
    other = _free_name(dst)
    shutil.move(str(src), str(other))
    moved.files += 1
    moved.kept_both.append(str(other.relative_to(moved.home)))


def _merge(src: Path, dst: Path, moved: Moved) -> None:
    """Move src (a file or folder) to dst, merging into an existing folder, keeping both on a clash."""
    if not os.path.lexists(dst):
        count = _count_files(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(dst))  # a rename on one file system
        moved.files += count
        return
    if src.is_dir() and not src.is_symlink() and dst.is_dir() and not dst.is_symlink():
        for child in sorted(src.iterdir()):
            _merge(child, dst / child.name, moved)
        try:
            src.rmdir()
        except OSError:
            pass  # something could not be moved: it stays, and the log says so
        return
    _move_file(src, dst, moved)


def move(source: Path, home: Path, own: frozenset[str] = PLUGIN_OWN) -> Moved:
    """Move every entry of ``source`` that is not the plugin's own into ``home`` (see module doc)."""
    moved = Moved(home=home)
    if source.resolve() == home.resolve():
        return moved
    names = sorted(n for n in os.listdir(source) if n not in own and not n.startswith("install.log."))
    for name in names:
        src, dst = source / name, home / name
        try:
            home.mkdir(parents=True, exist_ok=True)
            if name in DERIVED and dst.exists():
                shutil.rmtree(src) if src.is_dir() else src.unlink()
                moved.dropped_index = True
                continue
            _merge(src, dst, moved)
            moved.entries.append(name)
        except OSError as exc:
            moved.problems.append(f"{name} ({exc.strerror or exc})")
    return moved


def _record(source: Path, moved: Moved, text: str) -> None:
    path = source / RECORD
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    record = {
        "data_home": str(moved.home),
        "moved_at": old.get("moved_at") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        "summary": old.get("summary") or text,
        "kept_both": (old.get("kept_both") or []) + moved.kept_both,
        # a later run that finds stragglers (say an older session still writing) moves them too,
        # without telling the person a second time
        "announced": bool(old.get("announced")),
    }
    fd, tmp = tempfile.mkstemp(dir=source, prefix=RECORD + ".")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=2)
    os.replace(tmp, path)


def run(source: Path, home: Path | None = None) -> Moved:
    """Move under the lock; log and record what moved. The data home defaults to paii_home()."""
    if home is None:
        from paii_common.config import paii_home

        home = paii_home()
    with open(source / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first server moves; the others wait, then find nothing
        moved = move(source, home)
        text = moved.summary(source)
        if text:
            with open(source / "install.log", "a") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} paii: {text}\n")
            _record(source, moved, text)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paii_common.datahome",
                                     description="Move PAII data out of a Claude Code plugin data folder into the data home.")
    parser.add_argument("--from", dest="source", required=True, type=Path, help="the plugin data folder")
    parser.add_argument("--home", type=Path, help="the data home (default: $PAII_HOME, else the per-user data folder)")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        return 0
    moved = run(args.source, args.home)
    text = moved.summary(args.source)
    if text:
        print(f"paii: {text}", file=sys.stderr)
    return 1 if moved.problems else 0


if __name__ == "__main__":
    sys.exit(main())
