"""Bytes of each server's tools/list as the model sees it (name, description, input schema; compact JSON).

    python bench/tools_size.py [--json]
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = ["history", "pagerduty", "slack", "jira", "kubernetes", "runbook"]


async def size_of(name: str) -> dict:
    from mcp import Client

    mod = importlib.import_module(f"paii_{name}.server")
    async with Client(mod.build_server()) as c:
        tools = (await c.list_tools()).tools
    view = [{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in tools]
    return {"tools": len(tools), "bytes": len(json.dumps(view, separators=(",", ":")))}


def main() -> None:
    result = {n: asyncio.run(size_of(n)) for n in SERVERS}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "tools_size.json").write_text(json.dumps(result, indent=2) + "\n")
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
    else:
        print("| server | tools | tools/list bytes (model view) |\n|---|---|---|")
        for n, r in result.items():
            print(f"| {n} | {r['tools']} | {r['bytes']:,} |")


if __name__ == "__main__":
    main()
