"""``paii-slack``: run the Slack MCP server (stdio by default)."""

from __future__ import annotations

import argparse

from paii_common.redact import register_secret, setup_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="paii-slack", description="PAII Slack MCP server")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args(argv)

    setup_logging()
    from paii_slack.config import SlackSettings
    from paii_slack.server import build_server

    settings = SlackSettings.load()
    register_secret(*settings.secret_values())
    server = build_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
