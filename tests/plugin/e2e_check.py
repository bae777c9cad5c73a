#!/usr/bin/env python3
"""Check an e2e.sh run: every expected tool was called and returned without error, and no
pre-approved (read) tool was denied.

usage: e2e_check.py RUN_DIR TOOL_RE[=denied] ...
  TOOL_RE          a tool whose name matches must have been called and returned a non-error result
  TOOL_RE=denied   a tool that must have been denied (a write that needs the permission prompt)
  TOOL_RE=allowed  a tool that must have been called and run, even if it returned a tool error
                   (e.g. "PagerDuty is not configured" when no credentials are set)
  TOOL_RE~TEXT_RE  as TOOL_RE, and the text of its last result matches TEXT_RE (re.S)
  no-denials       the session had no permission denial at all
Reads RUN_DIR/e2e_result.json and RUN_DIR/e2e_requests.jsonl (written by e2e.sh).
"""

import json
import re
import sys
from pathlib import Path


def main(run: Path, expectations: list[str]) -> int:
    result = json.loads((run / "e2e_result.json").read_text())
    denied = [d["tool_name"] for d in result.get("permission_denials") or []]
    calls: dict[str, str] = {}  # tool_use id -> name
    results: dict[str, tuple[str, bool, str]] = {}  # name -> (id, is_error, text) of the last call
    for line in (run / "e2e_requests.jsonl").read_text().splitlines():
        body = json.loads(line).get("body") or {}
        for msg in body.get("messages", []):
            if not isinstance(msg.get("content"), list):
                continue
            for block in msg["content"]:
                if block.get("type") == "tool_use":
                    calls[block["id"]] = block["name"]
                elif block.get("type") == "tool_result" and block.get("tool_use_id") in calls:
                    name = calls[block["tool_use_id"]]
                    content = block.get("content")
                    text = (" ".join(c.get("text", "") for c in content if isinstance(c, dict))
                            if isinstance(content, list) else str(content))
                    results[name] = (block["tool_use_id"], bool(block.get("is_error")), text)
    failures = []
    for exp in expectations:
        if exp == "no-denials":
            if denied:
                failures.append(f"expected no permission denials, got {denied}")
            continue
        if "~" in exp:
            pattern, _, text_re = exp.partition("~")
            want = ""
        else:
            (pattern, _, want), text_re = exp.partition("="), None
        names = [n for n in results if re.search(pattern, n)]
        if want == "denied":
            if not any(re.search(pattern, d) for d in denied):
                failures.append(f"{pattern}: expected a permission denial, got {denied}")
            continue
        if not names:
            failures.append(f"{pattern}: never called (calls: {sorted(set(calls.values()))})")
            continue
        for n in names:
            _, is_error, text = results[n]
            print(f"  {n}: {'ERROR ' if is_error else ''}{text[:160]}")
            if is_error and want != "allowed":
                failures.append(f"{n}: returned an error: {text[:300]}")
            if text_re and not re.search(text_re, text, re.S):
                failures.append(f"{n}: its result does not match {text_re!r}: {text[:300]}")
            if n in denied:
                failures.append(f"{n}: was denied permission")
    for f in failures:
        print("FAIL", f)
    print("e2e check:", "PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
