"""``paii-runbook`` / ``python -m paii_runbook``: run the runbook MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("runbook", "RunbookSettings", "PAII runbook MCP server", 8006, argv)


if __name__ == "__main__":
    main()
