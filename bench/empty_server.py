"""An empty MCPServer: the baseline that PAII servers' cold start is compared with."""

from mcp.server import MCPServer

if __name__ == "__main__":
    MCPServer("empty").run("stdio")
