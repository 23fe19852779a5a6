"""`handoff mcp` driven by the official MCP SDK's own client: the server runs as a real
subprocess (stdio or streamable HTTP) over a real workspace; the owner decides through the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED

mcp = pytest.importorskip(
    "mcp", reason="the mcp extra is not installed (pip install -e '.[mcp]'; CI installs it "
                  "through the test extra)")

import anyio  # noqa: E402  (installed with the mcp SDK)
import mcp_types  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
TOOLS = ["handoff_brief", "create_handoff", "report_exception", "handoff_status",
         "wait_for_decision", "close_handoff", "update_handoff"]
BOUND = 90  # seconds any one step may take on a loaded machine before the test fails


def packet(**changes: Any) -> dict[str, Any]:
    data = {k: v for k, v in SEED.items() if k != "ownerRole"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def server(root: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "handoff_cli", "-w", str(root), "mcp", *extra],
                                 env=dict(os.environ), cwd=str(root))


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The handoff CLI in its own process, as a person at another terminal runs it."""
    return subprocess.run([sys.executable, "-m", "handoff_cli", "-w", str(root), *args],
                          capture_output=True, text=True, timeout=BOUND, check=False)


def run_async(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with anyio.fail_after(4 * BOUND):
            await test()

    anyio.run(bounded)


def structured(result: Any) -> dict[str, Any]:
    """A successful tool result's structured content (its text is the same, as JSON)."""
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = result.structured_content
    if "brief" not in data:  # the brief's text is its Markdown
        assert json.loads(result.content[0].text) == data
    return data


def refused(result: Any, kind: str, exit_code: int) -> dict[str, Any]:
    assert result.is_error, result.structured_content
    error: dict[str, Any] = result.structured_content["error"]
    assert (error["kind"], error["exitCode"]) == (kind, exit_code), error
    assert result.content[0].text.startswith(f"error ({kind}, exit {exit_code}): ")
    return error


def test_an_agent_completes_the_whole_loop_over_stdio(root: Path) -> None:
    """brief, create (and a refused one), wait while the owner decides in the CLI, close, read."""
    progress: list[tuple[float, float | None, str | None]] = []
    waiting = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))
        waiting.set()

    async def loop() -> None:
        async with Client(server(root, "--as", "agent-7")) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert list(tools) == TOOLS  # and no decide tool: agents never decide
            schema = tools["create_handoff"].input_schema["properties"]["packet"]
            assert schema["properties"]["handoffType"]["enum"] == [
                "customer_exception", "external_sending", "compliance_concern", "data_conflict"]
            assert "evidence required: orderFile, conversationSummary, policyExcerpt" in (
                schema["properties"]["handoffType"]["description"])
            rule = next(r["then"] for r in schema["allOf"]
                        if r["if"]["properties"]["handoffType"]["const"] == "customer_exception")
            assert rule["properties"]["evidence"]["required"] == [
                "orderFile", "conversationSummary", "policyExcerpt"]
            assert rule["properties"]["options"]["items"]["properties"]["label"]["enum"] == [
                "approve refund", "reject", "offer credit", "escalate to manager"]
            timeout = tools["wait_for_decision"].input_schema["properties"]["timeout"]
            assert timeout["maximum"] == 600
            assert tools["handoff_status"].annotations.read_only_hint is True

            brief = structured(await client.call_tool("handoff_brief", {}))["brief"]
            assert brief == cli(root, "brief").stdout

            bad = await client.call_tool("create_handoff", {"packet": packet(
                runId="bad-1", agentGoal="please review", evidence={"orderFile": "../x.xlsx"})})
            error = refused(bad, "lint", 1)
            rules = {f["rule"] for f in error["findings"]}
            assert {"H301", "H403", "H404"} <= rules
            assert all(f["path"].endswith("packets/bad-1.md") for f in error["findings"])
            assert "H301 agentGoal (the goal of the run) 'please review'" in bad.content[0].text
            assert sorted(p.name for p in (root / "packets").iterdir()) == []

            made = structured(await client.call_tool("create_handoff", {"packet": packet()}))
            assert made["runId"] == RUN and made["path"] == f"packets/{RUN}.md"
            assert made["ownerRole"] == "customer-success-lead" and made["dueBy"]
            assert made["queue"] == "packets" and made["uri"] == f"handoff://packets/{RUN}"
            assert cli(root, "lint").returncode == 0
            again = await client.call_tool("create_handoff", {"packet": packet()})
            refused(again, "conflict", 3)

            # The agent changes its waiting packet through the tool, never by rewriting it.
            edited = structured(await client.call_tool("update_handoff", {
                "runId": RUN, "set": {"customerTier": "standard"},
                "body": "The customer asks for a full refund of 1,240.00 EUR (order 8241).\n"}))
            assert (edited["changed"], edited["keys"], edited["body"]) == (
                True, ["customerTier"], True)
            assert edited["status"]["status"] == "open"
            forged = await client.call_tool("update_handoff", {"runId": RUN, "set": {
                "status": "decided", "decision": {"option": "approve refund", "by": MARIA}}})
            assert "status" in refused(forged, "usage", 2)["message"]
            history = json.loads(cli(root, "show", RUN, "--format", "json").stdout)["history"]
            assert history[-1]["event"] == "edited" and history[-1]["by"] == "agent-7"
            assert cli(root, "lint").returncode == 0

            outcome: dict[str, Any] = {}

            async def wait() -> None:
                result = await client.call_tool("wait_for_decision",
                                                {"runId": RUN, "timeout": 600},
                                                progress_callback=on_progress)
                outcome.update(structured(result))

            async with client.listen(resource_subscriptions=[made["uri"]]) as changes, \
                    anyio.create_task_group() as group:
                group.start_soon(wait)
                await waiting.wait()  # the wait has begun: now the owner decides
                decided = await anyio.to_thread.run_sync(
                    cli, root, "decide", RUN, "--option", "offer credit", "--note",
                    "200 EUR credit", "--as", MARIA)
                assert decided.returncode == 0, decided.stderr
                event = await changes.__anext__()
                assert event.uri == made["uri"]
            assert outcome["status"] == "decided"
            assert outcome["option"] == {"label": "offer credit",
                                         "risk": "may not satisfy customer"}
            assert outcome["decision"]["by"] == MARIA
            assert outcome["decision"]["note"] == "200 EUR credit"
            assert progress[0][:2] == (0.0, 600.0)

            status = structured(await client.call_tool("handoff_status", {"runId": RUN}))
            assert status == outcome

            closed = structured(await client.call_tool(
                "close_handoff", {"runId": RUN, "outcome": "credit issued, reply drafted"}))
            assert closed["status"] == "closed" and closed["outcome"] == (
                "credit issued, reply drafted")
            history = json.loads(cli(root, "show", RUN, "--format", "json").stdout)["history"]
            assert history[-1]["event"] == "closed" and history[-1]["by"] == "agent-7"

            listed = [str(r.uri) for r in (await client.list_resources()).resources]
            assert listed == ["handoff://runbook", f"handoff://packets/{RUN}"]
            view = (await client.read_resource(made["uri"])).contents[0]
            assert view.mime_type == "text/markdown"
            assert view.text == cli(root, "show", RUN, "--format", "markdown").stdout
            assert "closed" in view.text and "offer credit" in view.text
            runbook = (await client.read_resource("handoff://runbook")).contents[0]
            assert runbook.text == (root / "runbooks" / "default.yaml").read_text()

    run_async(loop)
    assert cli(root, "lint").returncode == 0


# A 2025-era client subscribes with resources/subscribe, which the SDK marks deprecated.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
def test_tools_refuse_what_the_cli_refuses(root: Path) -> None:
    """Exit-code classes as tool errors; unplanned failures go to the exception queue; a
    legacy (2025) client hears about a subscribed packet's change."""
    updates: list[str] = []
    updated = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            updated.set()

    async def refusals() -> None:
        async with Client(server(root), mode="legacy", message_handler=on_message) as client:
            assert client.protocol_version < "2026"
            made = structured(await client.call_tool("create_handoff", {"packet": packet()}))

            refused(await client.call_tool("handoff_status", {"runId": "nope"}), "failed", 1)
            refused(await client.call_tool("close_handoff", {"runId": RUN, "outcome": "early"}),
                    "conflict", 3)
            refused(await client.call_tool("close_handoff", {"runId": RUN, "outcome": ""}),
                    "usage", 2)
            escape = await client.call_tool("handoff_status", {"runId": "../../etc/passwd"})
            assert "does not match" in refused(escape, "usage", 2)["message"]
            refused(await client.call_tool("create_handoff", {"packet": packet(
                runId="forged", decision={"option": "approve refund", "by": MARIA})}),
                "usage", 2)
            assert not (root / "packets" / "forged.md").exists()
            refused(await client.call_tool("create_handoff", {"packet": packet(
                handoffType="refund_everything")}), "usage", 2)
            timed_out = await client.call_tool("wait_for_decision",
                                               {"runId": RUN, "timeout": 0})
            refused(timed_out, "timeout", 124)
            assert timed_out.structured_content["status"]["status"] == "open"
            with pytest.raises(MCPError, match="unknown resource"):
                await client.read_resource("file:///etc/passwd")
            with pytest.raises(MCPError, match="no packet 'nope'"):
                await client.read_resource("handoff://packets/nope")

            failure = packet(runId="orders-unreadable",
                             triggerReason="Could not read the orders file: permission denied")
            filed = structured(await client.call_tool("create_handoff", {"packet": failure}))
            assert filed["queue"] == "exceptions" and filed["exceptionTrigger"] == (
                "file_read_failed")
            assert (root / "exceptions" / "orders-unreadable.md").is_file()
            assert not (root / "packets" / "orders-unreadable.md").exists()
            reported = structured(await client.call_tool("report_exception", {"packet": {
                "handoffType": "data_conflict", "runId": "export-empty",
                "triggerReason": "The nightly export came back empty",
                "evidence": {"export": SEED["evidence"]["orderFile"]}}}))
            assert reported["path"] == "exceptions/export-empty.md"
            assert reported["exceptionTrigger"] is None

            began = anyio.Event()

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                began.set()

            async def abandoned_wait() -> None:
                await client.call_tool("wait_for_decision", {"runId": RUN, "timeout": 600},
                                       progress_callback=on_progress)

            async with anyio.create_task_group() as group:  # the agent gives up waiting
                group.start_soon(abandoned_wait)
                await began.wait()
                group.cancel_scope.cancel()
            still = structured(await client.call_tool("handoff_status", {"runId": RUN}))
            assert still["status"] == "open"

            await client.session.subscribe_resource(made["uri"])
            decided = await anyio.to_thread.run_sync(
                cli, root, "decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA)
            assert decided.returncode == 0, decided.stderr
            await updated.wait()
            assert updates[0] == made["uri"]
            returned = structured(await client.call_tool("wait_for_decision",
                                                         {"runId": RUN, "timeout": 0}))
            assert returned["status"] == "returned" and returned["missing"] == ["orderFile"]

            # A long-running server reads the workspace afresh, like each CLI command.
            config = root / "handoff.yaml"
            config.write_text(config.read_text().replace("rules: {}", "rules: {H202: warning}"))
            tools = {t.name: t for t in (await client.list_tools()).tools}
            schema = tools["create_handoff"].input_schema["properties"]["packet"]
            assert "agentGoal" not in schema["required"]

    run_async(refusals)
    denied = cli(root, "decide", RUN, "--option", "1", "--as", "agent-7")
    assert denied.returncode == 4  # nor may the agent decide through the CLI


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def http_server(root: Path, port: int) -> AsyncIterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "handoff_cli", "-w", str(root), "mcp", "--transport",
         "streamable-http", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_streamable_http_on_localhost(root: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"

    async def over_http() -> None:
        async with http_server(root, port) as process:
            assert process.stderr is not None
            line = await anyio.to_thread.run_sync(process.stderr.readline)
            assert f"over MCP on http://127.0.0.1:{port}/mcp" in line
            while True:  # until uvicorn listens (bounded by run_async)
                try:
                    async with Client(url) as client:
                        await client.list_tools()
                    break
                except Exception as exc:  # connection refused, in whatever wrapping
                    assert process.poll() is None, f"server died: {exc}"
                    await anyio.sleep(0.2)
            async with Client(url) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                assert tools == TOOLS
                made = structured(await client.call_tool("create_handoff", {"packet": packet()}))
                assert made["ownerRole"] == "customer-success-lead"
                status = structured(await client.call_tool("handoff_status", {"runId": RUN}))
                assert status["status"] == "open"

    run_async(over_http)
    assert (root / "packets" / f"{RUN}.md").is_file()


def test_a_port_in_use_is_one_clear_message(root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(root, "mcp", "--transport", "streamable-http", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_runbook_stops_before_serving(root: Path) -> None:
    (root / "runbooks" / "default.yaml").write_text("roles: [\n", encoding="utf-8")
    result = cli(root, "mcp")
    assert result.returncode == 2 and "runbooks/default.yaml" in result.stderr
    assert "Traceback" not in result.stderr
