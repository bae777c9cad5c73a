"""Measure the Bash guard on the held-out list (tests/hooks/heldout_cases.py).

    ./.venv/bin/python tests/hooks/heldout.py [--misses] [--json]

Runs every case through hooks/guard.py (the system python3, the hook JSON on stdin) in the test
world of tests/hooks/conftest.py and prints, per kind and in all, how many destructive commands
were stopped (blocked or asked about) and how many harmless ones ran without a question.
``--misses`` lists the commands decided the wrong way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hooks.conftest import World, decision_of  # noqa: E402
from tests.hooks.heldout_cases import ALLOW, STOP  # noqa: E402


def measure(world):
    cases = [dict(c, id="%d" % k, cwd="proj", env={}) for k, c in enumerate(STOP + ALLOW)]
    results = world.run_cases(cases)
    rows = []
    for c in cases:
        decision, reason = decision_of(*results[c["id"]])
        stopped = decision in ("block", "ask", "deny")
        rows.append({**c, "decision": decision, "reason": reason,
                     "right": stopped if c["expect"] == "stop" else decision == "allow"})
    return rows


def summary(rows):
    out = {}
    for expect in ("stop", "allow"):
        mine = [r for r in rows if r["expect"] == expect]
        kinds = {}
        for r in mine:
            k = kinds.setdefault(r["kind"], [0, 0])
            k[0] += r["right"]
            k[1] += 1
        out[expect] = {"right": sum(r["right"] for r in mine), "total": len(mine), "kinds": kinds}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="list the commands decided the wrong way")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(World(Path(tmp)))
    s = summary(rows)
    if args.json:
        print(json.dumps({"summary": s, "misses": [{k: r[k] for k in ("kind", "command", "decision")}
                                                   for r in rows if not r["right"]]}, indent=2))
        return
    for expect, title in (("stop", "destructive, stopped"), ("allow", "harmless, allowed")):
        part = s[expect]
        print("%s: %d of %d (%.1f%%)" % (title, part["right"], part["total"], 100.0 * part["right"] / part["total"]))
        for kind, (right, total) in part["kinds"].items():
            print("    %-45s %3d / %3d" % (kind, right, total))
    if args.misses:
        print("\nmisses:")
        for r in rows:
            if not r["right"]:
                print("  [%s] %-7s %s" % (r["kind"], r["decision"], r["command"].replace("\n", "\\n")))


if __name__ == "__main__":
    main()
