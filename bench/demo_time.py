"""How long `make demo` takes after setup: a fresh demo home (first run) and the second run.

Writes bench/results/demo.json. The issue's target is under 60 s on the 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    paii = str(Path(sys.executable).with_name("paii"))
    out: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PAII_HOME": home}
        for label in ("first_run_s", "second_run_s"):
            start = time.perf_counter()
            done = subprocess.run([paii, "sandbox", "demo", "--examples", str(ROOT / "examples")], env=env,
                                  capture_output=True, text=True, cwd=ROOT)
            out[label] = round(time.perf_counter() - start, 1)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:])
                raise SystemExit(f"the demo failed ({label})")
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    (ROOT / "bench" / "results" / "demo.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
