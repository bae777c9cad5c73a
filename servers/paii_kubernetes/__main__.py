"""``paii-kubernetes`` / ``python -m paii_kubernetes``: run the Kubernetes MCP server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from paii_common.serve import serve

    serve("kubernetes", "KubernetesSettings", "PAII Kubernetes MCP server", 8005, argv)


if __name__ == "__main__":
    main()
