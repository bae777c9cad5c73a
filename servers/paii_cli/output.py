"""Output helpers shared by every ``paii`` command: JSON on stdout, progress bars on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def progress_factory(enabled: bool):
    """A tqdm progress bar on stderr for long work (more than a few hundred entries)."""
    bars: dict[str, Any] = {}

    def progress(done: int, total: int, phase: str) -> None:
        if not enabled or total <= 200:
            return
        from tqdm import tqdm

        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="entry", file=sys.stderr, leave=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
