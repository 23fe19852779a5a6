"""Notification hooks: handoff.yaml `hooks:` run on events with the status JSON on stdin and
HANDOFF_* variables; failing or hanging hooks are reported and never undo the write."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
DUMP_SCRIPT = """\
import json, os, sys
data = json.load(sys.stdin)
data["env"] = {k: v for k, v in os.environ.items() if k.startswith("HANDOFF_")}
with open(os.path.join(".handoff", "hook-" + data["event"] + ".json"), "a") as out:
    out.write(json.dumps(data) + "\\n")
"""
DUMP = f"{sys.executable} dump-hook.py"  # hooks run in the workspace root


def configure(root: Path, hooks: str, timeout: str = "") -> None:
    (root / "dump-hook.py").write_text(DUMP_SCRIPT, encoding="utf-8")
    config = root / "handoff.yaml"
    config.write_text(config.read_text() + hooks + timeout, encoding="utf-8")


def calls(root: Path, event: str) -> list[dict[str, Any]]:
    path = root / ".handoff" / f"hook-{event}.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def packet(root: Path) -> Path:
    return write_packet(root, f"{RUN}.md", SEED_MD)


def test_decided_hook_gets_status_json_and_env(run: Any, root: Path, packet: Path) -> None:
    configure(root, f"hooks:\n  decided: '{DUMP}'\n")
    result = run("decide", RUN, "--option", "offer credit", "--note", "200 EUR", "--as", MARIA)
    assert result.exit_code == 0 and result.stderr == ""
    [call] = calls(root, "decided")
    assert call["event"] == "decided" and call["runId"] == RUN and call["status"] == "decided"
    assert call["option"] == {"label": "offer credit", "risk": "may not satisfy customer"}
    assert call["ownerRole"] == "customer-success-lead"
    assert call["details"]["by"] == MARIA and call["details"]["note"] == "200 EUR"
    env = call["env"]
    assert env["HANDOFF_EVENT"] == "decided" and env["HANDOFF_RUN_ID"] == RUN
    assert env["HANDOFF_STATUS"] == "decided" and env["HANDOFF_OPTION"] == "offer credit"
    assert env["HANDOFF_PATH"] == f"packets/{RUN}.md" and env["HANDOFF_BY"] == MARIA
    assert Path(env["HANDOFF_WORKSPACE"]) == root.absolute()


def test_every_event_fires_its_hooks(run: Any, root: Path) -> None:
    events = ("created", "returned", "resubmitted", "withdrawn", "decided", "closed", "resolved")
    configure(root, "hooks:\n" + "".join(f"  {e}: ['{DUMP}']\n" for e in events))
    assert run("new", "customer_exception", "--set", "runId=a").exit_code == 0
    assert run("decide", "a", "--return", "--missing", "amount", "--as", MARIA).exit_code == 0
    assert run("resubmit", "a", "--set", "amount=100").exit_code == 0
    assert run("withdraw", "a", "--reason", "not needed").exit_code == 0
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 0
    assert run("close", RUN, "--outcome", "refunded").exit_code == 0
    assert run("new", "customer_exception", "--set", "runId=fail",
               "--set", "triggerReason=permission denied on the CRM").exit_code == 0
    assert run("resolve", "fail", "--kind", "fixed", "--note", "granted").exit_code == 0
    seen = {e: [c["runId"] for c in calls(root, e)] for e in events}
    assert seen == {"created": ["a", "fail"], "returned": ["a"], "resubmitted": ["a"],
                    "withdrawn": ["a"], "decided": [RUN], "closed": [RUN],
                    "resolved": ["fail"]}
    assert calls(root, "resubmitted")[0]["status"] == "open"
    assert calls(root, "created")[1]["path"] == "exceptions/fail.md"


def test_a_failing_hook_is_reported_and_the_write_stands(run: Any, root: Path,
                                                          packet: Path) -> None:
    configure(root, f"hooks:\n  decided: ['echo boom >&2; exit 7', '{DUMP}']\n")
    result = run("decide", RUN, "--option", "1", "--as", MARIA)
    assert result.exit_code == 0
    assert "hook 'decided' (echo boom >&2; exit 7) exited 7: boom" in result.stderr
    assert "was recorded anyway" in result.stderr
    assert load_packet(packet).data["status"] == "decided"
    assert len(calls(root, "decided")) == 1  # the next hook still ran


def test_a_hanging_hook_is_killed(run: Any, root: Path, packet: Path) -> None:
    # The hook starts a child that would outlive it; the whole process group is killed.
    configure(root, "hooks:\n  withdrawn: 'sleep 300 & sleep 300'\n", "hookTimeout: 0.5\n")
    result = run("withdraw", RUN, "--reason", "no longer needed")
    assert result.exit_code == 0
    assert "did not finish within 0.5s and was killed" in result.stderr
    assert load_packet(packet).data["status"] == "withdrawn"


def test_hook_output_cannot_inject_terminal_escapes(run: Any, root: Path, packet: Path) -> None:
    configure(root, "hooks:\n  decided: 'printf \"\\033]0;pwned\\007\" >&2; exit 1'\n")
    result = run("decide", RUN, "--option", "1", "--as", MARIA)
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_no_hooks_variable_turns_them_off(run: Any, root: Path, packet: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    configure(root, f"hooks:\n  decided: '{DUMP}'\n")
    monkeypatch.setenv("HANDOFF_NO_HOOKS", "1")
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 0
    assert calls(root, "decided") == []


@pytest.mark.parametrize("config, message", [
    ("hooks: [echo]\n", "'hooks' must map events"),
    ("hooks:\n  decidd: echo\n", "unknown hook event 'decidd'"),
    ("hooks:\n  decided: {a: 1}\n", "hook 'decided' must be a shell command"),
    ("hooks:\n  decided: ['']\n", "hook 'decided' must be a shell command"),
    ("hookTimeout: -1\n", "'hookTimeout' must be a number"),
    ("hookTimeout: yes\n", "'hookTimeout' must be a number"),
])
def test_bad_hook_settings_are_config_errors(run: Any, root: Path, packet: Path, config: str,
                                             message: str) -> None:
    configure(root, config)
    result = run("decide", RUN, "--option", "1", "--as", MARIA)
    assert result.exit_code == 2
    assert message in result.stderr and "handoff.yaml:" in result.stderr
    assert load_packet(packet).data.get("status") is None


OVERDUE = "createdAt: 2020-01-01T08:00:00Z\ndueBy: 2020-01-01T12:00:00Z\n"


def test_route_escalate_fires_overdue_once_and_escalated(run: Any, root: Path) -> None:
    configure(root, f"hooks:\n  overdue: '{DUMP}'\n  escalated: '{DUMP}'\n")
    late = SEED_MD.replace(f"runId: {RUN}", "runId: late").replace("---\nThe", OVERDUE
                                                                     + "---\nThe")
    write_packet(root, "late.md", late)
    top = late.replace("runId: late", "runId: top").replace(
        "ownerRole: customer-success-lead", "ownerRole: support-manager") \
        .replace("---\nThe", "amount: 9000\n---\nThe")
    write_packet(root, "top.md", top)
    assert run("route").exit_code == 0  # without --escalate: no notifications
    assert calls(root, "overdue") == []
    assert run("route", "--escalate", "--as", "ops@example.com").exit_code == 0
    assert sorted(c["runId"] for c in calls(root, "overdue")) == ["late", "top"]
    [escalated] = calls(root, "escalated")
    assert escalated["runId"] == "late" and escalated["ownerRole"] == "support-manager"
    assert escalated["details"]["from"] == "customer-success-lead"
    assert escalated["details"]["overdueSince"] == "2020-01-01T12:00:00Z"
    # A cron job running it again does not repeat the overdue notice for the same due time.
    assert run("route", "--escalate").exit_code == 0
    assert len(calls(root, "overdue")) == 2
    assert run("route", "--escalate", "--dry-run").exit_code == 0
    assert len(calls(root, "overdue")) == 2


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Recorder.bodies
    finally:
        server.shutdown()
        server.server_close()


def test_a_hook_posts_to_a_chat_webhook(run: Any, root: Path, packet: Path,
                                        webhook: tuple[str, list[bytes]]) -> None:
    url, bodies = webhook
    # The README's example: the status JSON from stdin posted as it is.
    configure(root, "hooks:\n  decided: >-\n    curl -sS --fail --max-time 5 -X POST "
              f"-H 'Content-Type: application/json' --data-binary @- {url}\n")
    result = run("decide", RUN, "--option", "offer credit", "--as", MARIA)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    [body] = bodies
    posted = json.loads(body)
    assert posted["event"] == "decided" and posted["runId"] == RUN
    assert posted["option"]["label"] == "offer credit" and posted["details"]["by"] == MARIA


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the real git CLI")
def test_with_git_push_only_the_winning_decision_is_notified(tmp_path: Path) -> None:
    """Two reviewers in two clones: the one whose push lost is never announced as decided."""
    from test_gitsync import MARIA as MARIA_GIT
    from test_gitsync import NO_WAIT, SAM, Team, cli, git, new_args

    from handoff_cli.decisions import decide
    from handoff_cli.errors import ConflictError
    from handoff_cli.gitsync import publish
    from handoff_cli.workspace import open_workspace

    team = Team(tmp_path)
    seed = team.clone("seed")
    configure(seed, f"hooks:\n  decided: '{DUMP}'\n")
    top = seed.parents[1]
    git(top, "add", "--all")
    git(top, "commit", "--quiet", "-m", "notify decisions")
    git(top, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-h")).exit_code == 0
    first, second = team.clone("r1"), team.clone("r2")

    def sam_decides_but_maria_pushes_first() -> Any:
        won = cli("--workspace", str(first), "decide", "refund-h", "--option", "1",
                  "--as", MARIA_GIT)
        assert won.exit_code == 0, won.output
        return decide(open_workspace(second), "refund-h", "offer credit", None, SAM)

    with pytest.raises(ConflictError):
        publish(open_workspace(second), sam_decides_but_maria_pushes_first, backoff=NO_WAIT)
    assert [c["details"]["by"] for c in calls(first, "decided")] == [MARIA_GIT]
    assert calls(second, "decided") == []
