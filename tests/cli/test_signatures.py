"""Signed decisions with real OpenSSH keys (ssh-keygen -Y): signing, verification, forged,
replayed and non-member signatures, key rotation, revocation, ssh-agent keys, and wait."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.editing import set_keys
from handoff_cli.packet import content_digest, load_packet
from handoff_cli.signing import sign, statement
from handoff_cli.timeutil import iso
from handoff_cli.workspace import open_workspace

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None,
                                reason="ssh-keygen (OpenSSH) is not installed")

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"  # customer-success-lead
SAM = "sam.okafor@example.com"  # customer-success-lead
PRIYA = "priya.shah@example.com"  # business-owner: a member, but not of this packet's role
PEOPLE = ("maria", "sam", "priya", "mallory", "maria-old")


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real ed25519 keys, one per person (mallory's is in no allowed-signers file)."""
    folder = tmp_path_factory.mktemp("keys")
    found = {}
    for name in PEOPLE:
        path = folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                        str(path)], check=True)
        found[name] = path
    return found


def public(key: Path) -> str:
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def signers_text(keys: dict[str, Path]) -> str:
    return (f"{MARIA} {public(keys['maria'])}\n"
            f"{SAM} {public(keys['sam'])}\n"
            f"{PRIYA} {public(keys['priya'])}\n")


def configure(root: Path, mode: str = "required", revoked: bool = False) -> None:
    config = root / "handoff.yaml"
    extra = f"decisions:\n  signatures: {mode}\n  allowedSigners: .handoff-signers/allowed\n"
    if revoked:
        extra += "  revokedKeys: .handoff-signers/revoked\n"
    config.write_text(config.read_text() + extra)


@pytest.fixture
def signed(root: Path, keys: dict[str, Path]) -> Path:
    """A workspace with decisions.signatures required and the team's allowed-signers file."""
    folder = root / ".handoff-signers"
    folder.mkdir()
    (folder / "allowed").write_text(signers_text(keys))
    configure(root)
    return write_packet(root, f"{RUN}.md", recent_packet())


def recent_packet(text: str = SEED_MD, run_id: str = RUN) -> str:
    now = datetime.now(timezone.utc)
    head, _, body = text.replace(RUN, run_id).partition("---\nThe customer")
    extra = (f"createdAt: {iso(now - timedelta(minutes=5))}\n"
             f"dueBy: {iso(now + timedelta(hours=3, minutes=55))}\n")
    return f"{head}{extra}---\nThe customer{body}"


def status_json(run: Any, run_id: str = RUN) -> dict[str, Any]:
    result = run("status", run_id)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def forge(path: Path, decision: dict[str, Any], status: str = "decided") -> None:
    """Write a decision into the packet as an agent editing the file would."""
    packet = load_packet(path)
    path.write_text(set_keys(packet.text, "md", {"status": status, "decision": decision}))


def signed_by(key: Path, run_id: str, digest: str, option: str, by: str, at: str) -> dict[str, Any]:
    """A decision block with a real signature made by `key` over the canonical statement."""
    signature = sign(statement(run_id, digest, "decided", option, None, None, by, at), key)
    return {"option": option, "by": by, "at": at, "note": None, "digest": digest,
            "signature": signature}


def test_a_signed_decision_verifies_end_to_end(run: Any, signed: Path,
                                               keys: dict[str, Path]) -> None:
    result = run("decide", RUN, "-o", "offer credit", "--as", MARIA, "--key",
                 str(keys["maria"]))
    assert result.exit_code == 0, result.output
    data = load_packet(signed).data
    assert data["decision"]["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert data["history"][-1]["signature"] == data["decision"]["signature"]
    status = status_json(run)
    assert (status["status"], status["verified"]) == ("decided", True)
    waited = run("wait", RUN, "--timeout", "0")
    assert waited.exit_code == 0 and json.loads(waited.stdout)["verified"] is True
    verified = run("verify", "--format", "json")
    assert verified.exit_code == 0, verified.output
    assert [(v["runId"], v["verdict"], v["by"]) for v in json.loads(verified.stdout)] == [
        (RUN, "verified", MARIA)]
    linted = run("lint")
    assert linted.exit_code == 0, linted.output
    text = run("verify")
    assert text.stdout.startswith(f"packets/{RUN}.md: verified by {MARIA} at ")
    assert run("verify", RUN).stdout == text.stdout  # a runId works too
    missing = run("verify", "no-such-run")
    assert missing.exit_code == 1 and "no such packet" in missing.stderr


def test_a_return_is_signed_too(run: Any, signed: Path, keys: dict[str, Path]) -> None:
    result = run("decide", RUN, "--return", "--missing", "orderTotal", "--as", SAM,
                 "--key", str(keys["sam"]))
    assert result.exit_code == 0, result.output
    assert status_json(run)["verified"] is True


def test_required_without_a_key_is_exit_2_and_nothing_written(run: Any, signed: Path) -> None:
    before = signed.read_bytes()
    result = run("decide", RUN, "-o", "1", "--as", MARIA)
    assert result.exit_code == 2
    assert "no signing key is set" in result.stderr and "--key PATH" in result.stderr
    assert signed.read_bytes() == before


def test_key_from_the_environment_and_from_git(run: Any, signed: Path, keys: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SIGNING_KEY", str(keys["maria"]))
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    assert status_json(run)["verified"] is True
    monkeypatch.delenv("HANDOFF_SIGNING_KEY")
    other = write_packet(signed.parent.parent, "second.md", recent_packet(run_id="second"))
    subprocess.run(["git", "config", "--global", "gpg.format", "ssh"], check=True)
    subprocess.run(["git", "config", "--global", "user.signingkey", str(keys["sam"])],
                   check=True)
    result = run("decide", "second", "-o", "1", "--as", SAM)
    assert result.exit_code == 0, result.output
    assert status_json(run, "second")["verified"] is True
    assert load_packet(other).data["decision"]["by"] == SAM


def test_someone_elses_key_cannot_sign_for_you(run: Any, signed: Path,
                                               keys: dict[str, Path]) -> None:
    before = signed.read_bytes()
    result = run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["sam"]))
    assert result.exit_code == 4
    assert f"signed by {SAM}'s key, not by {MARIA}" in result.stderr
    assert signed.read_bytes() == before
    unlisted = run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["mallory"]))
    assert unlisted.exit_code == 4 and "does not list" in unlisted.stderr
    assert signed.read_bytes() == before


def test_a_hand_typed_decision_is_never_settled(run: Any, signed: Path) -> None:
    # The agent approves itself: status, decision and the digest copied from show.
    digest = json.loads(run("show", RUN, "--format", "json").stdout)["digest"]
    forge(signed, {"option": "approve refund", "by": MARIA, "at": iso(datetime.now(
        timezone.utc)), "note": None, "digest": digest})
    status = status_json(run)
    assert (status["status"], status["verified"]) == ("decided", False)
    waited = run("wait", RUN, "--timeout", "0")
    assert waited.exit_code == 124
    assert "no verified decision" in waited.stderr
    lint = run("lint", "--format", "json")
    assert "H801" in {f["rule"] for f in json.loads(lint.stdout)}
    verify = run("verify")
    assert verify.exit_code == 1 and "unsigned" in verify.stdout
    assert status["settled"] is False
    # Nor as 'closed', as if the agent had already acted on it.
    forge(signed, load_packet(signed).data["decision"], status="closed")
    closed = status_json(run)
    assert (closed["status"], closed["settled"]) == ("closed", False)
    assert run("wait", RUN, "--timeout", "0").exit_code == 124


def test_a_signature_copied_from_another_packet_is_rejected(run: Any, signed: Path,
                                                            keys: dict[str, Path]) -> None:
    root = signed.parent.parent
    other = write_packet(root, "other.md", recent_packet(run_id="other"))
    assert run("decide", "other", "-o", "approve refund", "--as", MARIA, "--key",
               str(keys["maria"])).exit_code == 0
    copied = dict(load_packet(other).data["decision"])
    copied["digest"] = content_digest(load_packet(signed))  # made to match this packet
    forge(signed, copied)
    status = status_json(run)
    assert status["verified"] is False
    assert "does not verify" in status["verification"]
    assert run("wait", RUN, "--timeout", "0").exit_code == 124
    lint = json.loads(run("lint", "--format", "json").stdout)
    assert [f["rule"] for f in lint if f["path"] == f"packets/{RUN}.md"] == ["H802"]
    # Another decision of the same packet (a different option) cannot reuse it either.
    decision = dict(load_packet(other).data["decision"], option="reject")
    forge(other, decision)
    assert status_json(run, "other")["verified"] is False


def test_a_non_member_signer_is_rejected(run: Any, signed: Path, keys: dict[str, Path]) -> None:
    digest = content_digest(load_packet(signed))
    at = iso(datetime.now(timezone.utc))
    # Priya's key is in the allowed-signers file, but she is not in this packet's role.
    forge(signed, signed_by(keys["priya"], RUN, digest, "approve refund", PRIYA, at))
    status = status_json(run)
    assert status["verified"] is False and "may not decide" in status["verification"]
    assert run("wait", RUN, "--timeout", "0").exit_code == 124
    # Mallory's key is listed for nobody: her signature claiming to be Maria's is rejected.
    forge(signed, signed_by(keys["mallory"], RUN, digest, "approve refund", MARIA, at))
    status = status_json(run)
    assert status["verified"] is False and "does not list" in status["verification"]
    # Sam's real key, claiming Maria's name: the wrong signer.
    forge(signed, signed_by(keys["sam"], RUN, digest, "approve refund", MARIA, at))
    assert "not by" in status_json(run)["verification"]
    assert run("verify").exit_code == 1


def test_editing_after_signing_voids_the_decision(run: Any, signed: Path,
                                                  keys: dict[str, Path]) -> None:
    assert run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["maria"])
               ).exit_code == 0
    packet = load_packet(signed)
    decision = dict(packet.data["decision"], note="approved up to 50,000 EUR")
    forge(signed, decision)
    assert status_json(run)["verified"] is False
    signed.write_text(signed.read_text().replace("1,240.00 EUR", "12,400.00 EUR"))
    assert "edited after the decision" in status_json(run)["verification"]


def test_rotated_keys_keep_old_decisions_and_revoked_keys_void_them(
        run: Any, root: Path, keys: dict[str, Path]) -> None:
    folder = root / ".handoff-signers"
    folder.mkdir()
    retired = datetime.now(timezone.utc) - timedelta(days=1)
    stamp = retired.strftime("%Y%m%d%H%M%SZ")
    (folder / "allowed").write_text(
        f'{MARIA} valid-before="{stamp}" {public(keys["maria-old"])}\n'
        f'{MARIA} valid-after="{stamp}" {public(keys["maria"])}\n'
        f"{SAM} {public(keys['sam'])}\n")
    (folder / "revoked").write_text("")
    configure(root, revoked=True)
    old = write_packet(root, "old.md", recent_packet(run_id="old"))
    digest = content_digest(load_packet(old))
    before = iso(retired - timedelta(hours=2))
    text = old.read_text().replace(iso(datetime.now(timezone.utc) - timedelta(minutes=5))[:10],
                                   before[:10])
    old.write_text(text)
    forge(old, signed_by(keys["maria-old"], "old", content_digest(load_packet(old)),
                         "approve refund", MARIA, before))
    assert digest == content_digest(load_packet(old))
    assert status_json(run, "old")["verified"] is True  # made before the key was retired
    # The retired key cannot sign a new decision.
    write_packet(root, f"{RUN}.md", recent_packet())
    refused = run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["maria-old"]))
    assert refused.exit_code == 4
    assert run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["maria"])
               ).exit_code == 0
    assert status_json(run)["verified"] is True
    # Maria's current key is compromised: every decision it signed is void.
    (folder / "revoked").write_text(keys["maria"].with_suffix(".pub").read_text())
    assert status_json(run)["verified"] is False
    assert status_json(run, "old")["verified"] is True
    verify = run("verify", "--format", "json")
    assert verify.exit_code == 1
    assert {v["runId"]: v["verdict"] for v in json.loads(verify.stdout)} == {
        "old": "verified", RUN: "invalid"}


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Iterator[str]:
    """A real ssh-agent holding Sam's key; yields its socket."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("ssh-agent or ssh-add is not installed")
    sock = str(tmp_path_factory.mktemp("agent") / "sock")
    process = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):  # the socket appears once the agent listens
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        env = {**os.environ, "SSH_AUTH_SOCK": sock}
        subprocess.run(["ssh-add", "-q", str(keys["sam"])], env=env, check=True,
                       capture_output=True)
        yield sock
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_ssh_agent_key_signs(run: Any, signed: Path, keys: dict[str, Path], agent: str,
                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_public = tmp_path / "sam.pub"
    only_public.write_text(keys["sam"].with_suffix(".pub").read_text())
    monkeypatch.setenv("SSH_AUTH_SOCK", agent)
    result = run("decide", RUN, "-o", "1", "--as", SAM, "--key", str(only_public))
    assert result.exit_code == 0, result.output
    assert status_json(run)["verified"] is True
    # git's literal form: user.signingkey = "key::ssh-ed25519 AAAA..."
    write_packet(signed.parent.parent, "second.md", recent_packet(run_id="second"))
    literal = "key::" + public(keys["sam"])
    assert run("decide", "second", "-o", "1", "--as", SAM, "--key", literal).exit_code == 0
    assert status_json(run, "second")["verified"] is True


def test_optional_signatures(run: Any, root: Path, keys: dict[str, Path]) -> None:
    folder = root / ".handoff-signers"
    folder.mkdir()
    (folder / "allowed").write_text(signers_text(keys))
    configure(root, mode="optional")
    write_packet(root, f"{RUN}.md", recent_packet())
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    status = status_json(run)
    assert status["verified"] is False  # unsigned, reported, but settled
    assert run("wait", RUN, "--timeout", "0").exit_code == 0
    assert run("lint").exit_code == 0
    write_packet(root, "second.md", recent_packet(run_id="second"))
    assert run("decide", "second", "-o", "1", "--as", SAM, "--key", str(keys["sam"])
               ).exit_code == 0
    assert status_json(run, "second")["verified"] is True


def test_signatures_off_changes_nothing(run: Any, root: Path, keys: dict[str, Path]) -> None:
    write_packet(root, f"{RUN}.md", recent_packet())
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    status = status_json(run)
    assert status["verified"] is None and "signature" not in status["decision"]
    assert run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["maria"])
               ).exit_code == 2  # a key with signatures off is a usage error, not a no-op
    assert run("verify").exit_code == 2  # nothing to verify against


def test_lint_checks_the_allowed_signers_file(run: Any, signed: Path,
                                              keys: dict[str, Path]) -> None:
    allowed = signed.parent.parent / ".handoff-signers" / "allowed"
    allowed.write_text(signers_text(keys)
                       + f"{MARIA},{SAM} {public(keys['mallory'])}\n"
                       + f"stranger@example.com {public(keys['maria-old'])}\n"
                       + f"*@example.com {public(keys['maria-old'])}\n"
                       + f'git-only@example.com namespaces="git" {public(keys["mallory"])}\n')
    result = run("lint", "--format", "json")
    found = [(f["path"], f["line"], f["rule"]) for f in json.loads(result.stdout)]
    assert result.exit_code == 1
    assert (".handoff-signers/allowed", 4, "H803") in found
    assert (".handoff-signers/allowed", 5, "H803") in found
    assert (".handoff-signers/allowed", 6, "H803") in found
    assert not [f for f in found if f[1] == 7]
    messages = " ".join(f["message"] for f in json.loads(result.stdout))
    assert "several principals" in messages and "not a member of any role" in messages


def test_a_missing_allowed_signers_file_fails_closed(run: Any, signed: Path,
                                                     keys: dict[str, Path]) -> None:
    assert run("decide", RUN, "-o", "1", "--as", MARIA, "--key", str(keys["maria"])
               ).exit_code == 0
    (signed.parent.parent / ".handoff-signers" / "allowed").unlink()
    status = status_json(run)
    assert status["verified"] is False and "missing" in status["verification"]
    assert run("wait", RUN, "--timeout", "0").exit_code == 124


def test_the_python_api_signs_and_reports(signed: Path, keys: dict[str, Path]) -> None:
    from handoff_cli import api

    workspace = open_workspace(signed.parent.parent)
    done = api.decide(workspace, RUN, "offer credit", identity=MARIA, key=keys["maria"])
    assert "signature" in done.event
    state = api.status(workspace, RUN)
    assert state.verified is True and state.settled
    [verdict] = api.verify_packets(workspace)
    assert verdict.verified and verdict.by == MARIA


# -- list, stats and show judge a decision as status, wait, lint and verify do ------------------


def forged_and_signed(run: Any, signed: Path, keys: dict[str, Path]) -> None:
    """RUN hand-decided by the agent (no signature); 'real' decided by Maria with her key."""
    root = signed.parent.parent
    write_packet(root, "real.md", recent_packet(run_id="real"))
    assert run("decide", "real", "-o", "offer credit", "--as", MARIA, "--key",
               str(keys["maria"])).exit_code == 0
    digest = json.loads(run("show", RUN, "--format", "json").stdout)["digest"]
    forge(signed, {"option": "approve refund", "by": MARIA, "at": iso(datetime.now(
        timezone.utc)), "note": None, "digest": digest})


def test_list_never_shows_a_forged_decision_as_a_real_one(run: Any, signed: Path,
                                                          keys: dict[str, Path]) -> None:
    forged_and_signed(run, signed, keys)
    rows = {r["runId"]: r for r in json.loads(run("list", "--format", "json").stdout)}
    assert (rows[RUN]["status"], rows[RUN]["verified"]) == ("decided", False)
    assert rows[RUN]["verification"] == "the decision is not signed"
    assert rows["real"]["verified"] is True
    table = run("list").stdout
    forged_line = next(line for line in table.splitlines() if RUN in line)
    real_line = next(line for line in table.splitlines() if line.lstrip().startswith("real"))
    assert "decided (NOT VERIFIED)" in forged_line and "NOT VERIFIED" not in real_line


def test_stats_count_a_forged_decision_apart(run: Any, signed: Path,
                                             keys: dict[str, Path]) -> None:
    forged_and_signed(run, signed, keys)
    data = json.loads(run("stats", "--format", "json").stdout)
    assert data["unverifiedDecisions"] == 1
    assert data["timeToDecision"]["customer-success-lead"]["count"] == 1  # only the real one
    assert "1 recorded decision (NOT VERIFIED)" in run("stats").stdout


def test_show_prints_the_verdict(run: Any, signed: Path, keys: dict[str, Path]) -> None:
    forged_and_signed(run, signed, keys)
    view = run("show", RUN).stdout
    assert "NOT VERIFIED: the decision is not signed" in view
    assert "decided (NOT VERIFIED)" in view
    data = json.loads(run("show", RUN, "--format", "json").stdout)
    assert (data["verified"], data["verification"]) == (False, "the decision is not signed")
    assert "Signature: **NOT VERIFIED**: the decision is not signed" in run(
        "show", RUN, "--format", "markdown").stdout
    real = run("show", "real").stdout
    assert "Signature" in real and "verified" in real and "NOT VERIFIED" not in real
    assert json.loads(run("show", "real", "--format", "json").stdout)["verified"] is True


def test_without_signatures_list_and_show_say_nothing_of_them(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", recent_packet())
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    assert json.loads(run("list", "--format", "json").stdout)[0]["verified"] is None
    assert "Signature" not in run("show", RUN).stdout
    assert "unverifiedDecisions\": 0" in run("stats", "--format", "json").stdout


def test_list_verifies_each_decision_once_and_again_when_it_or_the_signers_change(
        run: Any, signed: Path, keys: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Count real ssh-keygen runs through a wrapper first on PATH.
    bin_dir, log = tmp_path / "bin", tmp_path / "ssh-keygen.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssh-keygen"
    wrapper.write_text(f"#!/bin/sh\necho run >> '{log}'\nexec '{shutil.which('ssh-keygen')}' "
                       "\"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    forged_and_signed(run, signed, keys)
    root = signed.parent.parent
    for number in range(32):  # enough files for list to keep its cache
        write_packet(root, f"open-{number}.md", recent_packet(run_id=f"open-{number}"))

    def runs() -> int:
        count = len(log.read_text().splitlines()) if log.exists() else 0
        log.unlink(missing_ok=True)
        return count

    def listed() -> dict[str, Any]:
        result = run("list", "--format", "json")
        assert result.exit_code == 0, result.output
        return {r["runId"]: r for r in json.loads(result.stdout)}

    runs()
    assert listed()["real"]["verified"] is True and runs() == 2  # find-principals, verify
    assert listed()["real"]["verified"] is True and runs() == 0  # from the cache
    signers = root / ".handoff-signers" / "allowed"
    signers.write_text(signers.read_text().replace(f"{MARIA} ", "nobody@example.com "))
    assert listed()["real"]["verified"] is False and runs() == 1  # the signers changed
    signers.write_text(signers_text(keys))
    real = root / "packets" / "real.md"
    real.write_text(real.read_text().replace("1,240.00 EUR", "1,250.00 EUR"))
    assert "edited after the decision" in listed()["real"]["verification"]
    assert listed()[RUN]["verified"] is False


# -- a decision that does not verify can be superseded by one that does ------------------------


def forge_unsigned(run: Any, signed: Path) -> dict[str, Any]:
    """The agent approves itself (no signature), with the digest copied from show."""
    digest = json.loads(run("show", RUN, "--format", "json").stdout)["digest"]
    forged = {"option": "approve refund", "by": MARIA, "at": iso(datetime.now(timezone.utc)),
              "note": None, "digest": digest}
    forge(signed, forged)
    return forged


def test_a_forged_decision_is_superseded_by_a_signed_one(run: Any, signed: Path,
                                                         keys: dict[str, Path]) -> None:
    forged = forge_unsigned(run, signed)
    decide = ("decide", RUN, "-o", "offer credit", "--as", MARIA, "--key", str(keys["maria"]))
    refused = run(*decide)
    assert refused.exit_code == 3
    assert "NOT VERIFIED (the decision is not signed)" in refused.stderr
    assert "--supersede" in refused.stderr
    assert load_packet(signed).data["decision"] == forged  # nothing written
    result = run(*decide, "--supersede")
    assert result.exit_code == 0, result.output
    data = load_packet(signed).data
    assert data["decision"]["option"] == "offer credit" and data["decision"]["signature"]
    superseded, decided = data["history"][-2:]
    assert superseded["event"] == "superseded" and decided["event"] == "decided"
    assert (superseded["by"], superseded["status"], superseded["decision"]) == (
        MARIA, "decided", forged)
    assert superseded["reason"] == "the decision is not signed"
    status = status_json(run)
    assert (status["verified"], status["settled"]) == (True, True)
    assert run("wait", RUN, "--timeout", "0").exit_code == 0
    assert run("verify").exit_code == 0
    linted = run("lint")
    assert linted.exit_code == 0, linted.output
    again = run(*decide, "--supersede")  # the new decision verifies: nothing to replace
    assert again.exit_code == 3 and "only a decision that does not verify" in again.stderr


def test_an_invalid_signature_is_superseded_by_a_return(run: Any, signed: Path,
                                                        keys: dict[str, Path]) -> None:
    digest = json.loads(run("show", RUN, "--format", "json").stdout)["digest"]
    at = iso(datetime.now(timezone.utc))
    forge(signed, signed_by(keys["mallory"], RUN, digest, "approve refund", MARIA, at))
    result = run("decide", RUN, "--return", "--missing", "orderTotal", "--as", SAM, "--key",
                 str(keys["sam"]), "--supersede")
    assert result.exit_code == 0, result.output
    data = load_packet(signed).data
    assert data["status"] == "returned" and data["decision"]["missing"] == ["orderTotal"]
    assert data["history"][-2]["event"] == "superseded"
    assert data["history"][-2]["decision"]["option"] == "approve refund"
    assert status_json(run)["verified"] is True


def test_supersede_only_replaces_a_decision_that_fails_and_only_for_its_owners(
        run: Any, signed: Path, keys: dict[str, Path]) -> None:
    maria = ("--as", MARIA, "--key", str(keys["maria"]))
    opened = run("decide", RUN, "-o", "offer credit", *maria, "--supersede")
    assert opened.exit_code == 3 and "nothing to supersede" in opened.stderr
    forge_unsigned(run, signed)
    before = signed.read_bytes()
    outsider = run("decide", RUN, "-o", "offer credit", "--as", PRIYA, "--key",
                   str(keys["priya"]), "--supersede")
    assert outsider.exit_code == 4, outsider.output
    assert signed.read_bytes() == before
    closed = load_packet(signed).data["decision"]
    forge(signed, closed, status="closed")  # the agent already acted on it: history now
    after_close = run("decide", RUN, "-o", "offer credit", *maria, "--supersede")
    assert after_close.exit_code == 3 and "'closed'" in after_close.stderr
    assert load_packet(signed).data["status"] == "closed"


def test_supersede_without_signatures_is_a_usage_error(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", recent_packet())
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    before = path.read_bytes()
    result = run("decide", RUN, "-o", "2", "--as", MARIA, "--supersede")
    assert result.exit_code == 2 and "decisions.signatures is off" in result.stderr
    assert path.read_bytes() == before
