"""``paii-pagerduty`` / ``python -m paii_pagerduty``: run the PagerDuty MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("pagerduty", "PagerDutySettings", "PAII PagerDuty MCP server", 8000, argv)


if __name__ == "__main__":
    main()
