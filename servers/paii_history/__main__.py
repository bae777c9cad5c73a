"""``paii-history`` / ``python -m paii_history``: run the history MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("history", "HistorySettings", "PAII history MCP server: past incidents, learnings and notes, searchable by meaning.", 8765, argv)


if __name__ == "__main__":
    main()
