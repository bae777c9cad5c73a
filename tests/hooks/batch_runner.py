"""Run hooks/<script>'s main() once per case inside one system-python3 process.

Reads [{"payload": str, "env": {...}}, ...] as JSON on stdin; for each case sets the
environment, gives main() the payload as its stdin and fresh stdout/stderr, and records the
exit code and both streams: what a separate process per call would show, without paying for
an interpreter start per case (tests/hooks/test_guard_decisions.py also runs a sample the
slow way and checks both agree). Writes the list of [rc, stdout, stderr] as JSON on stdout.
"""

import io
import json
import os
import runpy
import sys


def main():
    script, cases = sys.argv[1], json.load(sys.stdin)
    sys.path.insert(0, os.path.dirname(script))
    module = runpy.run_path(script, run_name="paii_hook_under_test")
    real = sys.stdin, sys.stdout, sys.stderr
    base_env = dict(os.environ)
    results = []
    for case in cases:
        os.environ.clear()
        os.environ.update(case["env"])
        out, err = io.StringIO(), io.StringIO()
        sys.stdin = io.TextIOWrapper(io.BytesIO(case["payload"].encode("utf-8")), encoding="utf-8")
        sys.stdout, sys.stderr = out, err
        try:
            rc = module["main"]()
        except SystemExit as exc:
            rc = exc.code
        finally:
            sys.stdin, sys.stdout, sys.stderr = real
        results.append([rc or 0, out.getvalue(), err.getvalue()])
    os.environ.clear()
    os.environ.update(base_env)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
