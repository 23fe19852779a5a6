"""`handoff mcp`: serve the workspace to agents over the Model Context Protocol.

Needs the optional extra: pip install 'handoff-cli[mcp]'.
"""

from __future__ import annotations

import typer

from ..errors import ConfigError
from .app import app, check_choice, current_workspace

TRANSPORTS = ("stdio", "streamable-http")
EXTRA_HINT = "pip install 'handoff-cli[mcp]'"


@app.command()
def mcp(
    ctx: typer.Context,
    transport: str = typer.Option("stdio", "--transport", "-t",
                                  help="stdio (default) or streamable-http."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535,
                             help="With streamable-http: the port on 127.0.0.1."),
    as_: str | None = typer.Option(None, "--as", metavar="ID",
                                   help="Who the agent is in packet history (default: "
                                   "$HANDOFF_USER, git email, else 'agent')."),
) -> None:
    """Serve this workspace as an MCP server: tools to brief, create, wait for and close
    handoffs, and each packet as a resource. Agents never decide: there is no decide tool."""
    check_choice(transport, TRANSPORTS, "--transport")
    workspace = current_workspace(ctx)
    workspace.runbook  # noqa: B018  (a broken runbook stops here, before serving)
    try:
        import mcp as _sdk  # noqa: F401
    except ImportError:
        raise ConfigError("the MCP server needs the official MCP SDK, an optional extra: "
                          f"{EXTRA_HINT}") from None
    from ..api import resolve_identity
    from ..mcp_server import serve

    if transport != "stdio":
        typer.echo(f"handoff: serving {workspace.root} over MCP on "
                   f"http://127.0.0.1:{port}/mcp", err=True)
    serve(workspace, transport, port, resolve_identity(as_))
