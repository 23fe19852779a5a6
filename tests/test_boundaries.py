"""The workspace's own folders and boundaries: a broken .handoff/ is one clear line naming the
path (exit 2; lint and list go on without the cache), folders and files leading out of the
workspace through a symlink are refused, init and demo never write through a link, and a
runbook `template:` stays a bounded regular file inside templates/. Nothing outside the
workspace is ever touched. Each test names the promise it keeps (README, Security)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.cli import app

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
OUTSIDE_TEXT = "outside the workspace: must stay byte for byte\n"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def handoff(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process (something that blocks would hang it: it has a timeout)."""
    env = {**os.environ, "HANDOFF_WORKSPACE": str(root), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "handoff_cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace, with one file, that no command may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text(OUTSIDE_TEXT)
    return folder


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under `folder` with its kind and bytes (to prove nothing changed)."""
    seen: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            relative = str(path.relative_to(folder))
            if path.is_symlink():
                seen[relative] = ("link", os.readlink(path))
            elif path.is_file():
                seen[relative] = ("file", path.read_bytes())
            elif path.is_dir():
                seen[relative] = ("dir",)
            else:
                seen[relative] = ("special",)
    return seen


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    return lines[0]


def move_out(root: Path, name: str, outside: Path) -> None:
    """Move a workspace folder outside and leave a symlink to it in its place."""
    shutil.move(str(root / name), str(outside / name.replace("/", "-")))
    os.symlink(outside / name.replace("/", "-"), root / name)


# -- a broken .handoff/ -------------------------------------------------------------------------


def _dot_file(root: Path, outside: Path) -> None:
    shutil.rmtree(root / ".handoff")
    (root / ".handoff").write_text("not a folder\n")


def _locks_file(root: Path, outside: Path) -> None:
    (root / ".handoff" / "locks").write_text("not a folder\n")


def _tmp_file(root: Path, outside: Path) -> None:
    (root / ".handoff" / "tmp").write_text("not a folder\n")


def _lock_folder(root: Path, outside: Path) -> None:
    (root / ".handoff" / "locks" / f"{RUN}.lock").mkdir(parents=True)


def _lock_dangling(root: Path, outside: Path) -> None:
    (root / ".handoff" / "locks").mkdir(parents=True)
    os.symlink(outside / "created-through-the-link", root / ".handoff" / "locks" / f"{RUN}.lock")


def _lock_to_outside_file(root: Path, outside: Path) -> None:
    (root / ".handoff" / "locks").mkdir(parents=True)
    os.symlink(outside / "victim.txt", root / ".handoff" / "locks" / f"{RUN}.lock")


def _lock_to_fifo(root: Path, outside: Path) -> None:
    os.mkfifo(outside / "pipe")
    (root / ".handoff" / "locks").mkdir(parents=True)
    os.symlink(outside / "pipe", root / ".handoff" / "locks" / f"{RUN}.lock")


def _locks_out(root: Path, outside: Path) -> None:
    (outside / "locks").mkdir()
    os.symlink(outside / "locks", root / ".handoff" / "locks")


def _tmp_out(root: Path, outside: Path) -> None:
    (outside / "tmp").mkdir()
    os.symlink(outside / "tmp", root / ".handoff" / "tmp")


BROKEN_STATE: dict[str, tuple[Callable[[Path, Path], None], str, str]] = {
    # name: (setup, the path named, words in the message)
    "dot-handoff-is-a-file": (_dot_file, ".handoff", "is a file, not a folder"),
    "locks-is-a-file": (_locks_file, ".handoff/locks", "is a file, not a folder"),
    "tmp-is-a-file": (_tmp_file, ".handoff/tmp", "is a file, not a folder"),
    "lock-is-a-folder": (_lock_folder, f".handoff/locks/{RUN}.lock", "is a folder"),
    "lock-is-a-dangling-symlink": (_lock_dangling, f".handoff/locks/{RUN}.lock", "symlink"),
    "lock-links-to-an-outside-file": (_lock_to_outside_file, f".handoff/locks/{RUN}.lock",
                                      "symlink"),
    "lock-links-to-a-fifo": (_lock_to_fifo, f".handoff/locks/{RUN}.lock", "symlink"),
    "locks-lead-outside": (_locks_out, ".handoff/locks", "outside the workspace"),
    "tmp-leads-outside": (_tmp_out, ".handoff/tmp", "outside the workspace"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_STATE))
def test_a_broken_handoff_folder_is_one_line_naming_it(root: Path, outside: Path,
                                                       case: str) -> None:
    """decide, return and new on a broken .handoff/: exit 2, one line naming the path from the
    workspace, the packet unchanged, nothing outside touched, nothing blocks."""
    setup, named, words = BROKEN_STATE[case]
    packet = write_packet(root, f"{RUN}.md", SEED_MD)
    setup(root, outside)
    before = snapshot(outside)
    commands = [("decide", RUN, "--option", "1", "--as", MARIA, "--yes"),
                ("decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA, "--yes")]
    if "lock-" not in case:  # a new packet takes its own runId's lock, not this one's
        commands.append(("new", "customer_exception", "--set", "runId=fresh-1",
                         "--set", "agentGoal=goal", "--set", "triggerReason=reason"))
    for command in commands:
        result = handoff(root, *command, timeout=30)
        line = one_error_line(result.stderr)
        assert result.returncode == 2, (command, result.stderr)
        assert line.startswith(f"handoff: error: {named}: broken workspace:"), line
        assert words in line, line
        assert packet.read_text() == SEED_MD
        assert not (root / "packets" / "fresh-1.md").exists()
    assert snapshot(outside) == before


@pytest.mark.parametrize("case", ["dot-handoff-is-a-file", "tmp-is-a-file", "tmp-leads-outside"])
def test_lint_and_list_go_on_without_the_cache_and_say_so_once(root: Path, outside: Path,
                                                               case: str) -> None:
    """lint and list never fail because the cache cannot be written: one warning line naming
    the path, then the usual result (40 packets, so the cache would be used)."""
    setup, named, _ = BROKEN_STATE[case]
    for index in range(40):
        write_packet(root, f"r-{index}.md", SEED_MD.replace(RUN, f"r-{index}"))
    setup(root, outside)
    before = snapshot(outside)
    for command in (("lint",), ("list",), ("list", "--format", "json")):
        result = handoff(root, *command)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith(f"handoff: warning: {named}: broken workspace:")
        assert warnings[0].endswith("going on without the cache")
        assert "r-39" in result.stdout or command == ("lint",)
    quiet = handoff(root, "lint", "--no-cache")
    assert quiet.returncode == 0 and "warning" not in quiet.stderr  # --no-cache: nothing to say
    assert snapshot(outside) == before


def test_a_healthy_handoff_folder_gives_no_warning(root: Path) -> None:
    for index in range(40):
        write_packet(root, f"r-{index}.md", SEED_MD.replace(RUN, f"r-{index}"))
    result = handoff(root, "lint")
    assert result.returncode == 0 and result.stderr.strip() == "All packets passed."
    assert (root / ".handoff" / "cache" / "results.json").is_file()


def test_a_planted_cache_file_link_is_replaced_never_written_through(root: Path,
                                                                     outside: Path) -> None:
    for index in range(40):
        write_packet(root, f"r-{index}.md", SEED_MD.replace(RUN, f"r-{index}"))
    (root / ".handoff" / "cache").mkdir(parents=True)
    os.symlink(outside / "victim.txt", root / ".handoff" / "cache" / "results.json")
    before = snapshot(outside)
    result = handoff(root, "lint")
    assert result.returncode == 0, result.stderr
    assert snapshot(outside) == before
    cache = root / ".handoff" / "cache" / "results.json"
    assert not cache.is_symlink() and cache.read_text().startswith('{"version"')


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only folders anyway")
def test_a_read_only_handoff_folder(root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    (root / ".handoff" / "locks").mkdir(parents=True, exist_ok=True)
    os.chmod(root / ".handoff", 0o555)
    try:
        result = handoff(root, "decide", RUN, "--option", "1", "--as", MARIA, "--yes")
        line = one_error_line(result.stderr)
        assert result.returncode == 2 and ".handoff" in line and "writable" in line
        listing = handoff(root, "list")
        assert listing.returncode == 0 and RUN in listing.stdout
    finally:
        os.chmod(root / ".handoff", 0o755)


# -- boundaries: folders and files leading out of the workspace ---------------------------------

LEADING_OUT = ["packets", "exceptions", "templates", ".handoff", "runbooks/default.yaml",
               "handoff.yaml", "runbooks"]


@pytest.mark.parametrize("name", LEADING_OUT)
def test_own_folders_and_files_leading_outside_are_refused(root: Path, outside: Path,
                                                           name: str) -> None:
    """Every command refuses the workspace (exit 2, one line naming the path) when one of its
    own folders or files is, or leads through, a symlink out of it; nothing outside is touched
    (handoff.yaml leading out is refused before it is read)."""
    write_packet(root, f"{RUN}.md", SEED_MD)
    move_out(root, name, outside)
    before = snapshot(outside)
    for command in (("lint",), ("list",), ("show", RUN), ("stats",), ("route",),
                    ("decide", RUN, "--option", "1", "--as", MARIA, "--yes"),
                    ("new", "customer_exception", "--set", "runId=fresh-1",
                     "--set", "agentGoal=goal", "--set", "triggerReason=reason")):
        result = handoff(root, *command)
        line = one_error_line(result.stderr)
        assert result.returncode == 2, (command, result.stderr)
        shown = "runbooks/default.yaml" if name == "runbooks" else name
        assert "outside the workspace through a symlink" in line, line
        assert f" {shown}: broken workspace:" in line or f"/{shown}: broken workspace" in line
    assert snapshot(outside) == before


def test_a_configured_queue_folder_leading_through_a_link_is_refused(root: Path,
                                                                     outside: Path) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("packets: packets", "packets: review/queue"))
    (outside / "queue").mkdir()
    os.symlink(outside, root / "review")
    result = handoff(root, "list")
    assert result.returncode == 2
    assert one_error_line(result.stderr).startswith("handoff: error: review/queue: broken "
                                                    "workspace: leads outside the workspace")


def test_links_that_stay_inside_the_workspace_are_fine(root: Path) -> None:
    """A queue folder, templates/ or .handoff/ that is a symlink to a folder inside the
    workspace is used as it is (the documented choice): decide and lint work through it."""
    for name in ("packets", "templates", ".handoff"):
        (root / "store").mkdir(exist_ok=True)
        shutil.move(str(root / name), str(root / "store" / name.strip(".")))
        os.symlink(Path("store") / name.strip("."), root / name)
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert handoff(root, "lint").returncode == 0
    result = handoff(root, "decide", RUN, "--option", "1", "--as", MARIA, "--yes")
    assert result.returncode == 0, result.stderr
    assert "decision:" in (root / "store" / "packets" / f"{RUN}.md").read_text()
    assert (root / "store" / "handoff" / "locks" / f"{RUN}.lock").is_file()


# -- init and demo never write through a link ---------------------------------------------------


@pytest.mark.parametrize("planted", ["handoff.yaml", "templates/customer_exception.md",
                                     ".handoff/.gitignore", "runbooks/default.yaml"])
def test_init_never_writes_through_a_planted_symlink(runner: Any, tmp_path: Path,
                                                     outside: Path, planted: str) -> None:
    """A symlink named like a file init creates, leading out (here: to a file that does not
    exist yet, so following it would create it) is refused: exit 2, nothing outside."""
    directory = tmp_path / "ws"
    (directory / planted).parent.mkdir(parents=True)
    os.symlink(outside / "created-through-the-link", directory / planted)
    before = snapshot(outside)
    result = runner.invoke(app, ["init", str(directory)])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert f"{planted}: broken workspace:" in line and "symlink" in line
    assert snapshot(outside) == before


@pytest.mark.parametrize("folder", ["templates", "packets", ".handoff", "runbooks"])
def test_init_never_creates_files_in_a_folder_linked_outside(runner: Any, tmp_path: Path,
                                                             outside: Path, folder: str) -> None:
    directory = tmp_path / "ws"
    directory.mkdir()
    os.symlink(outside, directory / folder)
    before = snapshot(outside)
    result = runner.invoke(app, ["init", str(directory)])
    assert result.exit_code == 2, result.output
    assert f"{folder}: broken workspace:" in one_error_line(result.stderr)
    assert snapshot(outside) == before


def test_init_keeps_a_file_linked_inside(runner: Any, tmp_path: Path) -> None:
    directory = tmp_path / "ws"
    (directory / "shared").mkdir(parents=True)
    (directory / "shared" / "settings.yaml").write_text("version: 1\n")
    os.symlink(Path("shared") / "settings.yaml", directory / "handoff.yaml")
    result = runner.invoke(app, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    assert (directory / "shared" / "settings.yaml").read_text() == "version: 1\n"


def test_demo_never_writes_through_a_planted_evidence_link(runner: Any, tmp_path: Path,
                                                           outside: Path) -> None:
    directory = tmp_path / "demo"
    planted = directory / "workspace" / "refunds" / "2026-05-24" / "orders.xlsx"
    planted.parent.mkdir(parents=True)
    os.symlink(outside / "victim.txt", planted)
    before = snapshot(outside)
    result = runner.invoke(app, ["demo", str(directory)])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "workspace/refunds/2026-05-24/orders.xlsx: broken workspace:" in line
    assert snapshot(outside) == before


# -- runbook template: a bounded regular file inside templates/ ---------------------------------


def _set_template(root: Path, value: str) -> int:
    """Give customer_exception `template: VALUE` in the runbook; return that line's number."""
    path = root / "runbooks" / "default.yaml"
    text = path.read_text()
    anchor = "    owner: customer-success-lead\n"
    assert text.count(anchor) == 1
    text = text.replace(anchor, f"{anchor}    template: {value}\n")
    path.write_text(text)
    return text.splitlines().index(f"    template: {value}") + 1


NEW = ("new", "customer_exception", "--set", f"runId={RUN}", "--set", "agentGoal=goal",
       "--set", "triggerReason=reason")


@pytest.mark.parametrize(("value", "words"), [
    ("/etc/passwd", "is absolute"),
    ("../handoff.yaml", "leads outside the templates folder"),
    ("a/../../runbooks/default.yaml", "leads outside the templates folder"),
    ("sub/..", "names a folder"),
])
def test_template_path_by_its_text(root: Path, value: str, words: str) -> None:
    """Checked when the runbook loads: every command is exit 2 naming the runbook's line."""
    write_packet(root, f"other-{RUN}.md", SEED_MD.replace(RUN, f"other-{RUN}"))  # lint loads it
    line = _set_template(root, value)
    for command in (NEW, ("lint",), ("list",)):
        result = handoff(root, *command)
        message = one_error_line(result.stderr)
        assert result.returncode == 2, result.stderr
        assert f"runbooks/default.yaml:{line}: broken runbook: template" in message, message
        assert words in message


def _link_out(root: Path, outside: Path) -> str:
    os.symlink(outside / "victim.txt", root / "templates" / "evil.md")
    return "leads outside templates/ through a symlink"


def _fifo(root: Path, outside: Path) -> str:
    os.mkfifo(root / "templates" / "evil.md")
    return "is a FIFO"


def _folder(root: Path, outside: Path) -> str:
    (root / "templates" / "evil.md").mkdir()
    return "is a folder, not a file"


@pytest.mark.parametrize("plant", [_link_out, _fifo, _folder],
                         ids=lambda f: f.__name__.strip("_"))
def test_template_file_must_be_a_bounded_regular_file_inside_templates(
        root: Path, outside: Path, plant: Callable[[Path, Path], str]) -> None:
    """`new` is exit 2 naming the runbook line (never blocks on a FIFO, never reads outside);
    lint and list, which only read templates for placeholders, skip it and go on."""
    line = _set_template(root, "evil.md")
    words = plant(root, outside)
    before = snapshot(outside)
    result = handoff(root, *NEW, timeout=30)
    message = one_error_line(result.stderr)
    assert result.returncode == 2, result.stderr
    assert message.startswith(f"handoff: error: runbooks/default.yaml:{line}: broken runbook: "
                              "template 'evil.md' of 'customer_exception'"), message
    assert words in message
    assert not (root / "packets" / f"{RUN}.md").exists()
    for command in (("lint",), ("list",)):
        assert handoff(root, *command, timeout=30).returncode == 0
    assert snapshot(outside) == before


@pytest.mark.parametrize(("data", "words"), [
    (b"---\n---\n" + b"x" * (1 << 20), "template is larger than the 1048576-byte packet size "
                                       "limit (lint.maxFileBytes)"),
    (b"---\n---\n\xff\xfe", "template is not valid UTF-8"),
])
def test_a_template_too_large_or_not_text_is_named(root: Path, data: bytes,
                                                   words: str) -> None:
    """The file itself at fault: exit 2 naming the template (and the line of a bad byte)."""
    _set_template(root, "evil.md")
    (root / "templates" / "evil.md").write_bytes(data)
    result = handoff(root, *NEW)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("handoff: error: templates/evil.md:") and line.endswith(words), line
    assert not (root / "packets" / f"{RUN}.md").exists()


def test_template_linked_inside_templates_is_fine(root: Path) -> None:
    (root / "templates" / "shared").mkdir()
    shutil.move(str(root / "templates" / "customer_exception.md"),
                str(root / "templates" / "shared" / "refund.md"))
    os.symlink(Path("shared") / "refund.md", root / "templates" / "customer_exception.md")
    result = handoff(root, *NEW)
    assert result.returncode in (0, 1), result.stderr  # created (with findings to fix, or not)
    assert (root / "packets" / f"{RUN}.md").is_file()


def test_a_runbook_that_is_a_fifo_never_blocks(root: Path) -> None:
    (root / "runbooks" / "default.yaml").unlink()
    os.mkfifo(root / "runbooks" / "default.yaml")
    result = handoff(root, "list", timeout=30)
    assert result.returncode == 2
    assert "runbooks/default.yaml: is not a regular file" in one_error_line(result.stderr)


def test_route_stops_once_on_a_broken_handoff_folder_and_notes_a_broken_lock(root: Path) -> None:
    """`route` on a broken .handoff/ is exit 2 before any write (one line, not one per packet);
    one packet's lock path that is a folder is noted "not routed", naming it, and every other
    packet is still routed."""
    misrouted = SEED_MD.replace("ownerRole: customer-success-lead", "ownerRole: support-manager")
    for name in ("a-1", "b-2"):
        write_packet(root, f"{name}.md", misrouted.replace(RUN, name))
    shutil.rmtree(root / ".handoff")
    (root / ".handoff").write_text("not a folder\n")
    result = handoff(root, "route")
    assert result.returncode == 2
    assert one_error_line(result.stderr).startswith("handoff: error: .handoff: broken workspace")
    assert "support-manager" in (root / "packets" / "a-1.md").read_text()
    assert handoff(root, "route", "--dry-run").returncode == 0  # writes nothing: no lock needed
    (root / ".handoff").unlink()
    (root / ".handoff" / "locks" / "a-1.lock").mkdir(parents=True)
    result = handoff(root, "route")
    assert result.returncode == 0, result.stderr
    assert "not routed: .handoff/locks/a-1.lock: broken workspace" in result.stderr
    assert "support-manager" in (root / "packets" / "a-1.md").read_text()
    assert "ownerRole: customer-success-lead" in (root / "packets" / "b-2.md").read_text()


def test_notified_state_that_is_a_fifo_or_a_link_out_never_blocks_or_escapes(
        root: Path, outside: Path) -> None:
    """`route --escalate` remembers overdue notices in .handoff/notified.json: a FIFO there is
    never opened (the run finishes; the notice fires, better repeated than lost), and a link
    there leading out is replaced, never written through."""
    (root / "hook.py").write_text("import sys; sys.stdin.read()\n")
    config = root / "handoff.yaml"
    config.write_text(config.read_text() + f"hooks:\n  overdue: '{sys.executable} hook.py'\n")
    late = SEED_MD.replace(f"runId: {RUN}", "runId: late").replace(
        "---\nThe", "createdAt: '2020-01-01T08:00:00Z'\ndueBy: '2020-01-01T12:00:00Z'\n---\nThe")
    write_packet(root, "late.md", late)
    (root / ".handoff").mkdir(exist_ok=True)
    os.mkfifo(root / ".handoff" / "notified.json")
    result = handoff(root, "route", "--escalate", timeout=60)
    assert result.returncode == 0, result.stderr
    assert (root / ".handoff" / "notified.json").is_file()  # the FIFO was replaced, unread
    (root / ".handoff" / "notified.json").unlink()
    os.symlink(outside / "victim.txt", root / ".handoff" / "notified.json")
    write_packet(root, "later.md", late.replace("runId: late", "runId: later"))  # overdue too
    before = snapshot(outside)
    result = handoff(root, "route", "--escalate", timeout=60)
    assert result.returncode == 0, result.stderr
    assert snapshot(outside) == before
    assert not (root / ".handoff" / "notified.json").is_symlink()


def test_lint_of_paths_in_their_own_workspace_warns_once_about_the_cache(root: Path,
                                                                         tmp_path: Path) -> None:
    """`handoff lint PATH...` from a repository root (as pre-commit runs it): each PATH is
    linted in its own workspace, and a .handoff/ there that cannot hold the cache is one
    warning naming it, not a failure."""
    paths = [write_packet(root, f"r-{index}.md", SEED_MD.replace(RUN, f"r-{index}"))
             for index in range(40)]
    shutil.rmtree(root / ".handoff")
    (root / ".handoff").write_text("not a folder\n")
    env = {k: v for k, v in os.environ.items() if k != "HANDOFF_WORKSPACE"}
    result = subprocess.run([sys.executable, "-m", "handoff_cli", "lint",
                             *(str(p.relative_to(tmp_path)) for p in paths)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "handoff: warning: .handoff: broken workspace: is a file, not a folder; move it away "
        "(handoff keeps its locks, staged writes and cache in folders here); going on without "
        "the cache", "All packets passed."]
