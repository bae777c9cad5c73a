"""``paii-jira`` / ``python -m paii_jira``: run the Jira MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("jira", "JiraSettings", "PAII Jira MCP server", 8004, argv)


if __name__ == "__main__":
    main()
