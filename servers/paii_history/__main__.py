"""``paii-history`` / ``python -m paii_history``: run the history MCP server."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="paii-history",
        description="PAII history MCP server: past incidents, learnings and notes, searchable by meaning.",
    )
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="for streamable-http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="for streamable-http (default 8765)")
    args = parser.parse_args(argv)

    from paii_common.redact import setup_logging

    setup_logging()
    from paii_history.config import HistorySettings
    from paii_history.server import build_server

    server = build_server(HistorySettings.load())
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
