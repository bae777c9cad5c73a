"""``paii-pagerduty`` / ``python -m paii_pagerduty``: run the PagerDuty MCP server."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="paii-pagerduty", description="PAII PagerDuty MCP server")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only")
    parser.add_argument("--port", type=int, default=8000, help="streamable-http only")
    args = parser.parse_args(argv)

    from paii_common.redact import register_secret, setup_logging
    from paii_pagerduty.config import PagerDutySettings
    from paii_pagerduty.server import build_server

    setup_logging()
    settings = PagerDutySettings.load()
    register_secret(*settings.secret_values())
    server = build_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
