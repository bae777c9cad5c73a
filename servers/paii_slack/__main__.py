"""``paii-slack`` / ``python -m paii_slack``: run the Slack MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("slack", "SlackSettings", "PAII Slack MCP server", 8003, argv)


if __name__ == "__main__":
    main()
