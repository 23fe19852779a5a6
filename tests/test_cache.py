"""The result cache under .handoff/cache/: reused only while nothing a finding depends on changed.

Every test lints real files twice or more and checks what a user sees after each kind of change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

import handoff_cli.cache
from handoff_cli.lint import engine
from handoff_cli.lint.engine import lint_paths
from handoff_cli.workspace import open_workspace

SEED_NAME = "refund-review-2026-05-24-1500"
CACHE = Path(".handoff") / "cache" / "results.json"


@pytest.fixture(autouse=True)
def cache_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small workspaces use the cache too (normally it starts at 32 files)."""
    import handoff_cli.queue

    monkeypatch.setattr(engine, "CACHE_MIN_FILES", 1)
    monkeypatch.setattr(handoff_cli.queue, "CACHE_MIN_FILES", 1)


def lint_rules(run: Any, *args: str) -> list[tuple[str, str]]:
    result = run("lint", "--format", "json", *args)
    assert "Traceback" not in result.output + result.stderr
    return [(f["path"], f["rule"]) for f in json.loads(result.stdout)]


def seed_packets(root: Path, count: int = 3) -> None:
    for i in range(count):
        run_id = f"refund-{i:03d}"
        write_packet(root, f"{run_id}.md", SEED_MD.replace(SEED_NAME, run_id))


def forge_findings(root: Path, name: str, message: str) -> None:
    """Rewrite the cached findings of one file (identity and hash untouched)."""
    path = root / CACHE
    data = json.loads(path.read_text())
    entry = data["entries"][str(root / "packets" / name)]
    entry["lint"]["issues"] = [["H301", 1, 1, message]]
    path.write_text(json.dumps(data))


def test_warm_run_reuses_cached_findings(run: Any, root: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seed_packets(root)
    write_packet(root, "wrong-owner.md",
                 SEED_MD.replace(SEED_NAME, "wrong-owner").replace(
                     "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    cold = lint_rules(run)
    assert cold == [("packets/wrong-owner.md", "H503")]
    assert (root / CACHE).is_file()
    assert (root / ".handoff" / ".gitignore").read_text() == "*\n"

    def no_loading(*args: Any) -> None:
        raise AssertionError("a warm run loaded a packet")

    monkeypatch.setattr(engine, "load_packet", no_loading)
    assert lint_rules(run) == cold


def test_cached_findings_are_what_is_reported(run: Any, root: Path) -> None:
    """The cache is really read (a forged entry shows) and --no-cache really bypasses it."""
    seed_packets(root, 1)
    assert lint_rules(run) == []
    forge_findings(root, "refund-000.md", "forged")
    assert lint_rules(run) == [("packets/refund-000.md", "H301")]
    assert lint_rules(run, "--no-cache") == []


def test_no_cache_writes_nothing(run: Any, root: Path) -> None:
    seed_packets(root, 1)
    assert lint_rules(run, "--no-cache") == []
    assert not (root / CACHE).exists()


def test_edit_with_same_size_and_mtime_is_rechecked(run: Any, root: Path) -> None:
    seed_packets(root, 1)
    path = root / "packets" / "refund-000.md"
    assert lint_rules(run) == []
    before = path.stat()
    vague = SEED_MD.replace(SEED_NAME, "refund-000").replace(
        "agentGoal: Prepare refund decision material for high-value requests",
        "agentGoal: " + "please review".ljust(len(
            "Prepare refund decision material for high-value requests")))
    path.write_text(vague)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert lint_rules(run) == [("packets/refund-000.md", "H301")]


def test_old_entry_with_other_bytes_is_not_trusted(run: Any, root: Path) -> None:
    """A recorded identity that happens to match is not enough while the file is fresh: the
    content hash decides (the 'racy' case of a write within one timestamp tick)."""
    seed_packets(root, 1)
    assert lint_rules(run) == []
    path = root / CACHE
    data = json.loads(path.read_text())
    [entry] = data["entries"].values()
    entry["sha"] = "0" * 64
    entry["lint"]["issues"] = [["H301", 1, 1, "stale"]]
    path.write_text(json.dumps(data))
    assert lint_rules(run) == []


def test_runbook_change_rechecks(run: Any, root: Path) -> None:
    seed_packets(root, 2)
    assert lint_rules(run) == []
    runbook = root / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text().replace("customer-success-lead", "cs-lead"))
    rules = lint_rules(run)
    assert {rule for _, rule in rules} == {"H502"} and len(rules) == 2


def test_settings_change_rechecks(run: Any, root: Path) -> None:
    write_packet(root, "wrong-owner.md",
                 SEED_MD.replace(SEED_NAME, "wrong-owner").replace(
                     "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    assert lint_rules(run) == [("packets/wrong-owner.md", "H503")]
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("  rules: {}", "  rules:\n    H503: off"))
    assert lint_rules(run) == []
    config.write_text(config.read_text().replace("H503: off", "H503: warning"))
    result = run("lint")
    assert result.exit_code == 0 and "H503" in result.stdout and "(warning)" in result.stdout


def test_evidence_deleted_and_restored(run: Any, root: Path) -> None:
    seed_packets(root, 2)
    assert lint_rules(run) == []
    evidence = root / "workspace" / "refunds" / "2026-05-24" / "orders.xlsx"
    evidence.unlink()
    assert [rule for _, rule in lint_rules(run)] == ["H401", "H401"]
    evidence.write_text("back\n")
    assert lint_rules(run) == []


def test_evidence_replaced_by_symlink_out_of_workspace(run: Any, root: Path,
                                                      tmp_path: Path) -> None:
    seed_packets(root, 1)
    assert lint_rules(run) == []
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    evidence = root / "workspace" / "refunds" / "2026-05-24" / "orders.xlsx"
    evidence.unlink()
    os.symlink(secret, evidence)
    assert lint_rules(run) == [("packets/refund-000.md", "H403")]


def test_template_change_rechecks_placeholders(run: Any, root: Path) -> None:
    text = SEED_MD.replace(SEED_NAME, "refund-000") + "Customer: $customerName\n"
    write_packet(root, "refund-000.md", text)
    assert lint_rules(run) == []
    template = root / "templates" / "customer_exception.md"
    template.write_text(template.read_text() + "\nCustomer: $customerName\n")
    assert lint_rules(run) == [("packets/refund-000.md", "H603")]


def test_duplicate_run_id_is_found_from_cached_files(run: Any, root: Path) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    write_packet(root, "copy.json", seed_json())
    first = lint_rules(run)
    assert ("packets/copy.json", "H601") in first or (f"packets/{SEED_NAME}.md", "H601") in first
    assert lint_rules(run) == first
    (root / "packets" / "copy.json").unlink()
    assert lint_rules(run) == []


def test_new_tool_version_drops_the_cache(run: Any, root: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seed_packets(root, 1)
    assert lint_rules(run) == []
    forge_findings(root, "refund-000.md", "forged")
    monkeypatch.setattr(handoff_cli.cache, "__version__", "999.0")
    assert lint_rules(run) == []
    assert json.loads((root / CACHE).read_text())["tool"] == handoff_cli.cache.tool_fingerprint()


@pytest.mark.parametrize("garbage", [
    b"", b"{", b"\x00\xff\xfe", b"[]", b'{"version": 1}', b'{"version": 99, "entries": {}}',
    b"null", b'{"version": 1, "tool": "x", "entries": []}',
])
def test_corrupt_cache_is_ignored_and_rebuilt(run: Any, root: Path, garbage: bytes) -> None:
    seed_packets(root, 2)
    (root / CACHE).parent.mkdir(parents=True)
    (root / CACHE).write_bytes(garbage)
    assert lint_rules(run) == []
    data = json.loads((root / CACHE).read_text())
    assert data["version"] == handoff_cli.cache.CACHE_VERSION and len(data["entries"]) == 2


@pytest.mark.parametrize("entry", [
    "nonsense", [], {"id": "x"}, {"id": None, "lint": 3},
])
def test_entries_of_another_shape_are_rechecked(run: Any, root: Path, entry: Any) -> None:
    write_packet(root, "wrong-owner.md",
                 SEED_MD.replace(SEED_NAME, "wrong-owner").replace(
                     "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    assert lint_rules(run) == [("packets/wrong-owner.md", "H503")]
    data = json.loads((root / CACHE).read_text())
    key = str(root / "packets" / "wrong-owner.md")
    data["entries"][key] = entry
    (root / CACHE).write_text(json.dumps(data))
    assert lint_rules(run) == [("packets/wrong-owner.md", "H503")]


def test_forged_entry_parts_of_the_wrong_type_are_rechecked(run: Any, root: Path) -> None:
    seed_packets(root, 1)
    assert lint_rules(run) == []
    data = json.loads((root / CACHE).read_text())
    [entry] = data["entries"].values()
    for bad in ([["H999", 1, 1, "no such rule"]], [[1]], "x", [["H301", "a", 1, "m"]]):
        entry["lint"]["issues"] = bad
        (root / CACHE).write_text(json.dumps(data))
        assert lint_rules(run) == []


def test_cache_in_a_read_only_place_is_skipped(run: Any, root: Path) -> None:
    seed_packets(root, 1)
    (root / ".handoff").mkdir(exist_ok=True)
    (root / ".handoff" / "cache").write_text("a file where the folder would be\n")
    assert lint_rules(run) == []
    assert run("lint").exit_code == 0


def test_concurrent_runs_never_tear_the_cache(root: Path) -> None:
    """Real processes racing on one workspace: each gets the full answer; the cache stays whole."""
    seed_packets(root, 40)
    write_packet(root, "wrong-owner.md",
                 SEED_MD.replace(SEED_NAME, "wrong-owner").replace(
                     "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    command = [sys.executable, "-m", "handoff_cli", "lint", "--format", "json"]
    outputs: list[str] = []

    def lint_once() -> None:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        outputs.append(done.stdout)

    for _ in range(3):
        threads = [threading.Thread(target=lint_once) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        data = json.loads((root / CACHE).read_text())
        assert len(data["entries"]) == 41
    assert len(outputs) == 12
    assert all([(f["path"], f["rule"]) for f in json.loads(out)]
               == [("packets/wrong-owner.md", "H503")] for out in outputs)
    assert list((root / ".handoff" / "tmp").iterdir()) == []


def test_lint_without_the_cache_threshold_uses_it_at_scale(root: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "CACHE_MIN_FILES", 32)
    seed_packets(root, 5)
    workspace = open_workspace(root)
    assert lint_paths(workspace) == []
    assert not (root / CACHE).exists()  # five files: quicker to check than to read a cache
    seed_packets(root, 40)
    assert lint_paths(workspace) == []
    assert len(json.loads((root / CACHE).read_text())["entries"]) == 40


def test_pool_gives_the_serial_answer(root: Path) -> None:
    seed_packets(root, 30)
    write_packet(root, "refund-007.json", seed_json(runId="refund-007"))  # a duplicate runId
    write_packet(root, "empty.md", "")
    write_packet(root, "vague.md", SEED_MD.replace(SEED_NAME, "vague").replace(
        "agentGoal: Prepare refund decision material for high-value requests",
        "agentGoal: TBD"))
    write_packet(root, "late.md", "x", folder="exceptions")
    workspace = open_workspace(root)
    serial = lint_paths(workspace, use_cache=False, workers=1)
    assert {f.rule for f in serial} == {"H601", "H105", "H301", "H106"}
    assert lint_paths(workspace, use_cache=False, workers=2) == serial
    assert lint_paths(workspace, use_cache=False, workers=3) == serial
    assert lint_paths(workspace, workers=2) == serial
    assert lint_paths(workspace, workers=2) == serial  # warm


def test_list_uses_the_cache_and_sees_edits(run: Any, root: Path) -> None:
    seed_packets(root, 3)
    first = json.loads(run("list", "--format", "json").stdout)
    assert [row["ownerRole"] for row in first] == ["customer-success-lead"] * 3
    assert json.loads(run("list", "--format", "json").stdout) == first
    assert json.loads(run("list", "--format", "json", "--no-cache").stdout) == first
    path = root / "packets" / "refund-001.md"
    path.write_text(path.read_text().replace("ownerRole: customer-success-lead",
                                             "ownerRole: data-owner"))
    rows = {row["runId"]: row for row in json.loads(run("list", "--format", "json").stdout)}
    assert rows["refund-001"]["ownerRole"] == "data-owner"
    path.write_text("---\nrunId: [\n")
    rows = {row["runId"]: row for row in json.loads(run("list", "--format", "json").stdout)}
    assert rows["refund-001"]["status"] == "invalid"


def test_list_after_lint_matches_list_without_cache(run: Any, root: Path) -> None:
    seed_packets(root, 3)
    write_packet(root, "broken.md", "---\nx: [\n")
    run("lint")
    warm = run("list", "--format", "json").stdout
    assert warm == run("list", "--format", "json", "--no-cache").stdout


def test_list_overdue_is_computed_now_not_cached(run: Any, root: Path) -> None:
    text = SEED_MD.replace(SEED_NAME, "refund-000").replace(
        "---\nThe customer", "dueBy: '2001-01-01T00:00:00Z'\n---\nThe customer")
    write_packet(root, "refund-000.md", text)
    [row] = json.loads(run("list", "--format", "json").stdout)
    assert row["overdue"] is True
    [row] = json.loads(run("list", "--format", "json").stdout)
    assert row["overdue"] is True


def test_a_finding_that_read_the_clock_is_never_reused(run: Any, root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """H702 for a decision without a readable `at` depends on whether the packet is overdue
    now: the escalation role may decide only then."""
    from datetime import datetime, timezone

    import handoff_cli.timeutil

    decided = SEED_MD.replace(SEED_NAME, "refund-000").replace("---\nThe customer", (
        "status: decided\ncreatedAt: '2030-01-01T00:00:00Z'\n"
        "decision: {option: approve refund, by: dana.kim@example.com}\n---\nThe customer"))
    write_packet(root, "refund-000.md", decided)

    def at(moment: datetime) -> None:
        monkeypatch.setattr(handoff_cli.timeutil, "now_utc", lambda: moment)
        monkeypatch.setattr("handoff_cli.lint.rules.now_utc", lambda: moment, raising=False)

    at(datetime(2030, 1, 1, 1, tzinfo=timezone.utc))  # within the 4h to decide
    assert ("packets/refund-000.md", "H702") in lint_rules(run)
    at(datetime(2030, 1, 2, tzinfo=timezone.utc))  # overdue: the escalation role may decide
    assert ("packets/refund-000.md", "H702") not in lint_rules(run)


def test_suppressions_apply_to_cached_findings(run: Any, root: Path) -> None:
    wrong = SEED_MD.replace(SEED_NAME, "legacy-1").replace(
        "ownerRole: customer-success-lead", "ownerRole: data-owner")
    write_packet(root, "legacy/legacy-1.md", wrong)
    assert lint_rules(run) == [("packets/legacy/legacy-1.md", "H503")]
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace(
        "  rules: {}\n", "  rules: {}\n  ignore:\n    \"packets/legacy/*\": [H503]\n"))
    assert lint_rules(run) == []
    assert lint_rules(run) == []  # warm: the entry was used, so no H901 for it
    path = root / "packets" / "legacy" / "legacy-1.md"
    path.write_text(path.read_text().replace("ownerRole: data-owner",
                                             "ownerRole: customer-success-lead"))
    assert lint_rules(run) == [("handoff.yaml", "H901")]
    assert lint_rules(run) == [("handoff.yaml", "H901")]


def test_file_directives_survive_the_cache(run: Any, root: Path) -> None:
    wrong = SEED_MD.replace(SEED_NAME, "refund-000").replace(
        "ownerRole: customer-success-lead", "ownerRole: data-owner").replace(
        "runId:", "# handoff: disable=H503\nrunId:")
    write_packet(root, "refund-000.md", wrong)
    assert lint_rules(run) == []
    assert lint_rules(run) == []
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace(
        "  rules: {}\n", "  rules: {}\n  fileSuppressions: false\n"))
    assert sorted(lint_rules(run)) == [("packets/refund-000.md", "H503"),
                                       ("packets/refund-000.md", "H901")]


def test_twins_found_when_many_files_are_named(root: Path) -> None:
    """With many PATHs (list's readiness check) the queue folders are read once for twins."""
    seed_packets(root, 40)
    twin = SEED_MD.replace(SEED_NAME, "refund-005")
    write_packet(root, "refund-005.md", twin, folder="exceptions")
    workspace = open_workspace(root)
    named = sorted((root / "packets").glob("*.md"))
    found = lint_paths(workspace, named)
    assert [(Path(f.path).name, f.rule) for f in found] == [("refund-005.md", "H601")]
    assert "exceptions/refund-005.md" in found[0].message
    assert lint_paths(workspace, named) == found  # warm
    assert lint_paths(workspace, named[:3]) == []
    assert [f.rule for f in lint_paths(workspace, named[5:6])] == ["H601"]


def test_cache_is_replaced_atomically_without_fsync(root: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the cache never waits for the disk (an fsync after writing many packets made
    the first run wait for all of them); it is still staged and renamed, so it is whole."""
    seed_packets(root, 3)
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    workspace = open_workspace(root)
    assert lint_paths(workspace) == []
    assert synced == []
    data = json.loads((root / CACHE).read_text())
    assert len(data["entries"]) == 3
    assert list((root / ".handoff" / "tmp").iterdir()) == []
    assert (root / CACHE).stat().st_mode & 0o777 == 0o600


def test_stale_staged_cache_files_are_removed_fresh_ones_kept(root: Path) -> None:
    """A killed run's staged cache file is removed by a later save; a running one's is not."""
    from handoff_cli.store import KEY_END, TEMP_PREFIX

    seed_packets(root, 2)
    tmp = root / ".handoff" / "tmp"
    tmp.mkdir(parents=True)
    old = tmp / f"{TEMP_PREFIX}_cache{KEY_END}old.tmp"
    young = tmp / f"{TEMP_PREFIX}_cache{KEY_END}young.tmp"
    other = tmp / f"{TEMP_PREFIX}cache{KEY_END}x.tmp"  # runId "cache"'s: never touched
    for path in (old, young, other):
        path.write_text("partial")
    os.utime(old, (1, 1))
    os.utime(other, (1, 1))
    assert lint_paths(open_workspace(root)) == []
    assert sorted(p.name for p in tmp.iterdir()) == sorted([young.name, other.name])


def test_each_list_of_reads_is_stored_once_and_pruned(root: Path) -> None:
    """Packets that read the same evidence share one list of reads; lists no entry names any
    more leave the table on the next save."""
    seed_packets(root, 4)
    workspace = open_workspace(root)
    assert lint_paths(workspace) == []
    data = json.loads((root / CACHE).read_text())
    assert len(data["reads"]) == 1
    assert {e["lint"]["reads"] for e in data["entries"].values()} == {0}
    assert [r[0] for r in data["reads"][0]] == ["evidence"] * 3
    for i in range(4):  # every packet now reads other evidence
        path = root / "packets" / f"refund-{i:03d}.md"
        path.write_text(path.read_text().replace("customer-8241.md", f"customer-{i}.md"))
    findings = lint_paths(workspace)
    assert {f.rule for f in findings} == {"H401"}
    data = json.loads((root / CACHE).read_text())
    assert len(data["reads"]) == 4
    assert sorted(e["lint"]["reads"] for e in data["entries"].values()) == [0, 1, 2, 3]
    assert lint_paths(workspace) == findings


@pytest.mark.parametrize("index", [99, -1, True, "0", None, 0.0])
def test_forged_reads_index_is_rechecked(run: Any, root: Path, index: Any) -> None:
    seed_packets(root, 1)
    assert lint_rules(run) == []
    forge_findings(root, "refund-000.md", "forged")
    data = json.loads((root / CACHE).read_text())
    [entry] = data["entries"].values()
    entry["lint"]["reads"] = index
    (root / CACHE).write_text(json.dumps(data))
    assert lint_rules(run) == []


def test_forged_reads_table_is_rechecked(run: Any, root: Path) -> None:
    seed_packets(root, 1)
    assert lint_rules(run) == []
    forge_findings(root, "refund-000.md", "forged")
    data = json.loads((root / CACHE).read_text())
    for table in ([["evidence", "x", "yes", None]], [["clock"]], [[]], [{}], ["x"]):
        data["reads"] = [table]
        (root / CACHE).write_text(json.dumps(data))
        assert lint_rules(run) == []
    data["reads"] = {"0": []}
    (root / CACHE).write_text(json.dumps(data))
    assert lint_rules(run) == []


def test_settings_change_keeps_rows_for_list(run: Any, root: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A new lint context drops the cached findings, not list's rows; list then lints the
    open packets again and keeps both."""
    seed_packets(root, 2)
    assert lint_rules(run) == []
    config = root / "handoff.yaml"
    config.write_text(config.read_text() + "\n# changed\n")
    data = json.loads((root / CACHE).read_text())
    assert all("row" in e for e in data["entries"].values())
    first = json.loads(run("list", "--format", "json").stdout)
    assert [row["lintErrors"] for row in first] == [0, 0]
    data = json.loads((root / CACHE).read_text())
    assert all("row" in e and "lint" in e for e in data["entries"].values())


def test_listing_order_is_by_path_components(tmp_path: Path) -> None:
    """One folder: sorted by name; with subfolders: by components ("a/b.md" before "a.md",
    though "/" sorts after "." as text)."""
    from handoff_cli.workspace import packet_file_names

    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("b.md", "a.json", "a.md", "a-b.md", "A.md", ".hidden.md", "x.txt"):
        (flat / name).write_text("x")
    names = [Path(n).name for n in packet_file_names(flat)]
    assert names == ["A.md", "a-b.md", "a.json", "a.md", "b.md"]
    nested = tmp_path / "nested"
    (nested / "a").mkdir(parents=True)
    (nested / "a" / "b.md").write_text("x")
    (nested / "a.md").write_text("x")
    assert [Path(n).relative_to(nested).as_posix() for n in packet_file_names(nested)] == [
        "a/b.md", "a.md"]


@pytest.mark.parametrize("text", [
    "a.md", "/x/y/a.md", "a", ".md", "a.", "a..", "a.b.md", "/x/.hidden", "x/y.z/", "..", ".",
    "/", "", "x//y.md", ".a.b", "dir/", "x/.", "x/..", "/a/b/./c.md", "é.md", "...",
])
def test_path_stem_is_paths_stem(text: str) -> None:
    assert engine.path_stem(text) == Path(text).stem


def test_warm_run_trusts_only_the_runbook_it_was_saved_against(run: Any, root: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """A warm run with the same runbook, settings and version does not load the runbook
    again; any change to it loads it, so a broken runbook is still exit 2."""
    import handoff_cli.runbook

    seed_packets(root, 3)
    assert run("lint").exit_code == 0
    real = handoff_cli.runbook.load_runbook

    def not_again(path: Path) -> Any:
        raise AssertionError("the runbook was loaded on a warm run")

    monkeypatch.setattr(handoff_cli.runbook, "load_runbook", not_again)
    assert run("lint").exit_code == 0
    monkeypatch.setattr(handoff_cli.runbook, "load_runbook", real)
    runbook = root / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text() + "\nroles: [not, a, mapping]\n")
    result = run("lint")
    assert result.exit_code == 2 and "runbooks/default.yaml" in result.stderr


def test_collector_paused_during_a_run_and_restored(root: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """lint and list pause the cyclic garbage collector while they run and restore it after,
    also when the run fails, and leave it off for a caller that turned it off."""
    import gc

    from handoff_cli.queue import list_queue

    seed_packets(root, 2)
    workspace = open_workspace(root)
    seen: list[bool] = []
    real = engine.check_file

    def spy(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(engine, "check_file", spy)
    assert gc.isenabled()
    assert lint_paths(workspace, use_cache=False) == []
    assert seen == [False, False] and gc.isenabled()
    assert [e.lint_errors for e in list_queue(workspace, use_cache=False)] == [0, 0]
    assert seen == [False] * 4 and gc.isenabled()
    with pytest.raises(Exception, match="unknown status"):
        list_queue(workspace, status="bogus")
    assert gc.isenabled()
    gc.disable()
    try:
        lint_paths(workspace, use_cache=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
