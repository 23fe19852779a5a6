"""`handoff new`: the packet size bound on every input and on the packet it writes, and every
packet key given by --set / --from-json written as a key whatever the template does (#8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED, SEED_MD, write_packet

from handoff_cli.packet import load_packet

LIMIT = 4096


def set_limit(root: Path, limit: int = LIMIT) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("maxFileBytes: 1048576",
                                                 f"maxFileBytes: {limit}"))


def nothing_written(root: Path) -> None:
    """No packet and no staged or temporary file anywhere in the workspace's folders."""
    assert sorted(p.name for p in (root / "packets").iterdir()) == []
    assert sorted(p.name for p in (root / "exceptions").iterdir()) == []
    staged = root / ".handoff" / "tmp"
    assert not staged.exists() or list(staged.iterdir()) == []


def one_line(result: Any) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return str(result.stderr)


# -- the size bound: inputs --------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--set", "--option", "--evidence"])
def test_an_argument_larger_than_the_bound_is_refused(run: Any, root: Path, flag: str) -> None:
    set_limit(root)
    result = run("new", "customer_exception", "--set", "runId=big", flag, "k=" + "v" * LIMIT)
    line = one_line(result)
    assert f"{flag} k: larger than the {LIMIT}-byte packet size limit" in line
    nothing_written(root)


def test_a_body_larger_than_the_bound_is_refused_from_argv_and_stdin(run: Any,
                                                                     root: Path) -> None:
    set_limit(root)
    line = one_line(run("new", "customer_exception", "--body", "é" * (LIMIT // 2 + 1)))
    assert "--body: larger than the 4096-byte" in line  # bytes, not characters, are counted
    line = one_line(run("new", "customer_exception", "--body", "-", input="x" * (LIMIT + 1)))
    assert line.startswith("handoff: error: <stdin>: --body input is larger than the 4096-byte")
    nothing_written(root)


def test_json_input_larger_than_the_bound_names_the_file(run: Any, root: Path,
                                                         tmp_path: Path) -> None:
    set_limit(root)
    source = tmp_path / "packet.json"
    source.write_text(json.dumps({**SEED, "agentGoal": "g" * LIMIT}))
    line = one_line(run("new", "customer_exception", "--from-json", str(source)))
    assert f"{source}: --from-json input is larger than the {LIMIT}-byte" in line
    line = one_line(run("new", "customer_exception", "--from-json", "-",
                        input=source.read_text()))
    assert "<stdin>: --from-json input is larger" in line
    nothing_written(root)


def test_an_endless_input_is_refused_after_the_bound_not_read_whole(run: Any,
                                                                    root: Path) -> None:
    """/dev/zero never ends: reading it whole would never return."""
    line = one_line(run("new", "customer_exception", "--from-json", "/dev/zero"))
    assert "/dev/zero: --from-json input is larger than the 1048576-byte" in line
    nothing_written(root)


def test_endless_stdin_in_a_real_process(root: Path) -> None:
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "handoff_cli", "new", "customer_exception",
                               "--body", "-"], cwd=root, stdin=zero, capture_output=True,
                              text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("handoff: error: <stdin>: --body input is larger than the "
                           "1048576-byte packet size limit (lint.maxFileBytes); nothing written\n")
    nothing_written(root)


def test_a_template_larger_than_the_bound_is_refused(run: Any, root: Path) -> None:
    set_limit(root)
    template = root / "templates" / "customer_exception.md"
    template.write_text("---\nrunId: $runId\n---\n" + "x" * LIMIT)
    line = one_line(run("new", "customer_exception", "--set", "runId=t"))
    assert line == ("handoff: error: templates/customer_exception.md: template is larger than "
                    f"the {LIMIT}-byte packet size limit (lint.maxFileBytes)\n")
    nothing_written(root)


def test_input_that_is_not_utf8_names_the_input_and_line(run: Any, root: Path,
                                                         tmp_path: Path) -> None:
    source = tmp_path / "latin1.json"
    source.write_bytes(b'{\n"agentGoal": "caf\xe9"}\n')
    line = one_line(run("new", "customer_exception", "--from-json", str(source)))
    assert line == f"handoff: error: {source}:2: cannot read --from-json: not valid UTF-8\n"


# -- the size bound: the packet written ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_a_packet_larger_than_the_bound_is_never_written(run: Any, root: Path,
                                                         fmt: str) -> None:
    """Each input fits, the packet they make together does not: refused, nothing written."""
    set_limit(root)
    half = "y" * (LIMIT // 2)
    result = run("new", "customer_exception", "--set", "runId=sum", "--format", fmt,
                 "--set", f"agentGoal={half}", "--set", f"triggerReason={half}")
    line = one_line(result)
    assert line == (f"handoff: error: the new packet packets/sum.{fmt}: larger than the {LIMIT}"
                    "-byte packet size limit (lint.maxFileBytes); nothing written\n")
    nothing_written(root)


def test_a_packet_of_exactly_the_bound_is_written_and_opens(run: Any, root: Path) -> None:
    """The bound is the one every command enforces when loading (H103): a packet of exactly
    that many bytes is written and opens; one byte more is refused."""
    first = run("new", "customer_exception", "--set", "runId=probe", "--body", "x\n")
    assert first.exit_code == 0, first.stderr
    probe = root / "packets" / "probe.md"
    size = probe.stat().st_size
    probe.unlink()
    limit = size + 1000
    set_limit(root, limit)
    fits = run("new", "customer_exception", "--set", "runId=probe", "--body",
               "x" * 1001 + "\n")
    assert fits.exit_code == 0, fits.stderr
    assert probe.stat().st_size == limit
    assert run("show", "probe").exit_code == 0
    assert "H103" not in run("lint", "--format", "json").stdout
    over = run("new", "customer_exception", "--set", "runId=probe2", "--body",
               "x" * 1002 + "\n")
    assert "the new packet packets/probe2.md: larger than" in one_line(over)
    assert not (root / "packets" / "probe2.md").exists()


# -- every packet key given is written as a key -------------------------------------------------


BODY_ONLY = """\
---
handoffType: customer_exception
agentGoal: $agentGoal
options:
  - label: approve
    risk: $approveRisk
---
Run $runId for $customer: $agentGoal
"""


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_run_id_used_only_in_the_body_is_still_the_run_id(run: Any, root: Path,
                                                          fmt: str) -> None:
    (root / "templates" / "customer_exception.md").write_text(BODY_ONLY)
    result = run("new", "customer_exception", "--format", fmt, "--set", "runId=my-run",
                 "--set", "customer=ACME", "--set", "approveRisk=precedent",
                 "--set", "agentGoal=decide the refund")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"packets/my-run.{fmt}\n"
    packet = load_packet(root / "packets" / f"my-run.{fmt}")
    assert packet.data["runId"] == "my-run"
    assert packet.data["customer"] == "ACME"  # a body placeholder given is a key too
    assert packet.data["options"] == [{"label": "approve", "risk": "precedent"}]
    assert "approveRisk" not in packet.data  # it only fills a frontmatter placeholder
    if fmt == "md":
        assert packet.body == "Run my-run for ACME: decide the refund\n"
    assert run("new", "customer_exception", "--set", "runId=my-run").exit_code == 3


def test_run_id_absent_from_the_template_is_written(run: Any, root: Path,
                                                    tmp_path: Path) -> None:
    (root / "templates" / "customer_exception.md").write_text("---\nagentGoal: x\n---\nHi\n")
    assert run("new", "customer_exception", "--set", "runId=plain").exit_code == 0
    assert load_packet(root / "packets" / "plain.md").data["runId"] == "plain"
    source = tmp_path / "p.json"
    source.write_text(json.dumps({"runId": "from-json", "triggerReason": "t"}))
    assert run("new", "customer_exception", "--from-json", str(source)).exit_code == 0
    data = load_packet(root / "packets" / "from-json.md").data
    assert (data["runId"], data["triggerReason"]) == ("from-json", "t")


def test_packet_keys_are_keys_even_when_the_template_nests_their_placeholder(
        run: Any, root: Path) -> None:
    """`$agentGoal` inside a nested value: agentGoal is still written as the packet's key, and
    the nested placeholder is filled with it."""
    (root / "templates" / "customer_exception.md").write_text(
        "---\nnotes:\n  goal: $agentGoal\n---\n")
    assert run("new", "customer_exception", "--set", "runId=n",
               "--set", "agentGoal=keep it").exit_code == 0
    data = load_packet(root / "packets" / "n.md").data
    assert data["agentGoal"] == "keep it" and data["notes"] == {"goal": "keep it"}



def test_arguments_that_are_not_utf8_are_refused_not_crashed_on(root: Path) -> None:
    """Bytes the shell passes undecoded (surrogates in Python) could never be written into a
    packet: exit 2 naming the command, instead of an internal error. lint still takes any file
    name."""
    def handoff(*args: bytes) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable.encode(), b"-m", b"handoff_cli", *args], cwd=root,
                              capture_output=True, text=True, timeout=120, check=False)

    for args in ([b"new", b"customer_exception", b"--set", b"agentGoal=caf\xe9"],
                 [b"new", b"customer_exception", b"--as", b"\xff"],
                 [b"-w", b".", b"new", b"customer_exception", b"--body", b"\xff\xfe"]):
        done = handoff(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("handoff: error: new: an argument is not valid UTF-8")
        assert done.stderr.count("\n") == 1
    nothing_written(root)
    done = handoff(b"-w", b".", b"lint", b"--no-cache", b"packets/\xff.md")
    assert done.returncode == 1 and "H101" in done.stdout, done.stderr


def test_a_closed_standard_input_is_one_clear_line(root: Path) -> None:
    """Started with fd 0 closed (`<&-`), Python has no sys.stdin: reading it, asking whether
    it is a terminal or serving MCP over it is exit 2, never an internal error."""
    write_packet(root, "r-1.md", SEED_MD.replace(
        "runId: refund-review-2026-05-24-1500", "runId: r-1"))

    def closed_stdin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "handoff_cli", *args], cwd=root,
                              preexec_fn=lambda: os.close(0), capture_output=True, text=True,
                              timeout=120, check=False)

    for args, message in (
        (("new", "customer_exception", "--body", "-"), "<stdin>: cannot read --body: there "
                                                       "is no standard input"),
        (("new", "customer_exception", "--from-json", "-"), "<stdin>: cannot read --from-json"),
        (("decide", "r-1", "--as", "maria.lopez@example.com"), "no terminal to prompt on"),
        (("mcp",), "--transport stdio speaks on standard input and output"),
    ):
        done = closed_stdin(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith(f"handoff: error: {message}"), done.stderr
    assert "decision" not in load_packet(root / "packets" / "r-1.md").data


def test_the_api_and_mcp_path_hold_to_the_bound(root: Path) -> None:
    """create_packet (what MCP's create_handoff calls) refuses a packet over the bound too."""
    from handoff_cli.api import PacketInput, create_packet
    from handoff_cli.errors import UsageError
    from handoff_cli.workspace import open_workspace

    set_limit(root)
    workspace = open_workspace(root)
    given = PacketInput(from_json={**SEED, "runId": "api-big", "agentGoal": "g" * LIMIT})
    with pytest.raises(UsageError, match=r"the new packet packets/api-big\.md: larger than"):
        create_packet(workspace, "customer_exception", given)
    nothing_written(root)
