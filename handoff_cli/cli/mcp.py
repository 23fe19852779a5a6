"""`handoff mcp`: serve the workspace to agents over the Model Context Protocol.

Needs the optional extra: pip install 'handoff-cli[mcp]'.
"""

from __future__ import annotations

import sys

import typer

from ..errors import ConfigError, UsageError
from .app import app, check_choice, current_workspace, notice

TRANSPORTS = ("stdio", "streamable-http")
EXTRA_HINT = "pip install 'handoff-cli[mcp]'"
DEFAULT_PORT = 8000


@app.command()
def mcp(
    ctx: typer.Context,
    transport: str = typer.Option("stdio", "--transport", "-t",
                                  help="stdio (default) or streamable-http."),
    port: int | None = typer.Option(None, "--port", "-p", min=1, max=65535,
                                    help="With streamable-http: the port on 127.0.0.1 "
                                    "(default: 8000)."),
    as_: str | None = typer.Option(None, "--as", metavar="ID",
                                   help="Who the agent is in packet history (default: "
                                   "$HANDOFF_USER, git email, else 'agent')."),
) -> None:
    """Serve this workspace as an MCP server: tools to brief, create, wait for and close
    handoffs, and each packet as a resource. Agents never decide: there is no decide tool."""
    check_choice(transport, TRANSPORTS, "--transport")
    if transport == "stdio" and port is not None:
        raise UsageError("--port goes with --transport streamable-http")
    if transport == "stdio" and (sys.stdin is None or sys.stdout is None):
        raise UsageError("--transport stdio speaks on standard input and output, and one of "
                         "them is closed")
    workspace = current_workspace(ctx)
    workspace.runbook  # noqa: B018  (a broken runbook stops here, before serving)
    try:
        import mcp as _sdk  # noqa: F401
    except ImportError:
        raise ConfigError("the MCP server needs the official MCP SDK, an optional extra: "
                          f"{EXTRA_HINT}") from None
    from ..api import resolve_identity
    from ..mcp_server import serve

    def announce(where: str) -> None:
        if where != "stdio":
            notice(f"serving {workspace.root} over MCP on {where} (Ctrl-C stops)")
        elif sys.stdin.isatty():  # a person ran it by hand: say what it waits for
            notice(f"serving {workspace.root} over MCP on stdio: an MCP client starts this "
                   "command and speaks JSON-RPC on its stdin (see README, 'Agents over MCP'); "
                   "Ctrl-C stops")

    serve(workspace, transport, port or DEFAULT_PORT, resolve_identity(as_), announce)
