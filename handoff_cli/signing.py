"""Signed decisions: the canonical statement a reviewer signs, signing and verifying it with
OpenSSH (`ssh-keygen -Y`, the mechanism git uses for signed commits), and each decision's verdict.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NotAllowedError, NotFoundError, SigningError
from .packet import Packet, content_digest
from .timeutil import parse_iso
from .workspace import Workspace

if TYPE_CHECKING:
    from .cache import ResultCache

NAMESPACE = "handoff-decision"
ENV_KEY = "HANDOFF_SIGNING_KEY"
MODES = ("off", "optional", "required")
TIMEOUT = 300.0  # ssh-keygen may ask for a passphrase on the terminal


# -- the statement ------------------------------------------------------------------------------


def statement(run_id: str, digest: str, event: str, option: str | None,
              missing: Sequence[str] | None, note: str | None, by: str, at: str) -> bytes:
    """The exact bytes a reviewer signs: what was decided, on which packet content, by whom and
    when. Binding runId and the content digest means a signature copied from another packet or
    another decision never verifies."""
    payload = {"namespace": NAMESPACE, "version": 1, "runId": run_id, "digest": digest,
               "event": event, "option": option,
               "missing": list(missing) if missing is not None else None,
               "note": note, "by": by, "at": at}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{NAMESPACE} v1\n{text}\n".encode()


def decision_statement(run_id: str, decision: Mapping[str, Any]) -> bytes | None:
    """The statement a recorded decision claims to sign; None when its fields are malformed."""
    option, missing = decision.get("option"), decision.get("missing")
    by, at, digest = decision.get("by"), decision.get("at"), decision.get("digest")
    note = decision.get("note")
    if not (isinstance(by, str) and isinstance(at, str) and isinstance(digest, str)):
        return None
    if note is not None and not isinstance(note, str):
        return None
    if isinstance(option, str) and missing is None:
        return statement(run_id, digest, "decided", option, None, note, by, at)
    if option is None and isinstance(missing, list) and all(isinstance(m, str) for m in missing):
        return statement(run_id, digest, "returned", None, missing, note, by, at)
    return None


# -- keys and ssh-keygen -------------------------------------------------------------------------


def ssh_keygen() -> str:
    """The ssh-keygen program, or a SigningError saying how to get it."""
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SigningError("ssh-keygen (OpenSSH) is not installed; it signs and verifies "
                           "decisions")
    return found


def _git_config(root: Path, name: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run([git, "config", "--get", name], cwd=root, capture_output=True,
                                text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def key_source(workspace: Workspace, explicit: str | Path | None) -> tuple[str, str] | None:
    """The signing key as (value, where it came from): --key, $HANDOFF_SIGNING_KEY, or git's
    user.signingkey when gpg.format is ssh. The value is a path or a literal public key."""
    if explicit is not None and str(explicit).strip():
        return str(explicit).strip(), "--key"
    env = os.environ.get(ENV_KEY, "").strip()
    if env:
        return env, f"${ENV_KEY}"
    if (_git_config(workspace.root, "gpg.format") or "").lower() == "ssh":
        value = _git_config(workspace.root, "user.signingkey")
        if value:
            return value, "git config user.signingkey"
    return None


@contextlib.contextmanager
def key_file(value: str, where: str) -> Iterator[Path]:
    """A key file ssh-keygen can sign with: the path given, or a literal public key (git's
    `key::ssh-ed25519 ...`) written to a private temporary file, whose secret is in ssh-agent."""
    literal = value[5:] if value.startswith("key::") else value
    if literal.startswith(("ssh-", "ecdsa-", "sk-")) and " " in literal.strip():
        with tempfile.TemporaryDirectory(prefix="handoff-key-") as folder:
            path = Path(folder) / "key.pub"
            path.write_text(literal.strip() + "\n", encoding="utf-8")
            yield path
        return
    path = Path(value).expanduser()
    if not path.is_file():
        raise SigningError(f"signing key from {where} is not a file: '{value}'")
    yield path


def sign(data: bytes, key: Path) -> str:
    """Sign `data` with `key` (a private key, or a public key whose secret is in ssh-agent) in
    the handoff-decision namespace; return the armored signature."""
    program = ssh_keygen()
    try:
        result = subprocess.run([program, "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE],
                                input=data, capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SigningError(f"ssh-keygen could not sign: {exc}", key) from None
    armored = result.stdout.decode("ascii", "replace")
    if result.returncode != 0 or "BEGIN SSH SIGNATURE" not in armored:
        detail = _last_line(result.stderr) or f"exit status {result.returncode}"
        raise SigningError(f"ssh-keygen could not sign with this key: {detail}", key)
    return armored.strip() + "\n"


def verify_time(at: str) -> str | None:
    """The decision's recorded time as ssh-keygen's -Overify-time value (UTC)."""
    moment = parse_iso(at)
    return None if moment is None else moment.strftime("%Y%m%d%H%M%SZ")


@dataclass(frozen=True)
class Check:
    """Whether one signature verifies for one principal, and if not, why."""

    ok: bool
    reason: str


def check_signature(data: bytes, signature: str, by: str, at: str, allowed_signers: Path,
                    revoked: Path | None = None) -> Check:
    """Verify `signature` over `data` as `by`'s, as of `at`: find-principals must name exactly
    `by` in the allowed-signers file, then `-Y verify -I by` (never check-novalidate, which
    accepts keys listed nowhere), with the revocation file when there is one."""
    try:
        program = ssh_keygen()
    except SigningError as exc:
        return Check(False, exc.message)
    when = verify_time(at)
    if when is None:
        return Check(False, f"the decision's time '{at}' is not a timestamp")
    if not allowed_signers.is_file():
        return Check(False, f"the allowed-signers file '{allowed_signers}' is missing")
    if revoked is not None and not revoked.is_file():
        return Check(False, f"the revoked-keys file '{revoked}' is missing")
    with _signature_file(signature) as sig:
        found = _run(program, ["-Y", "find-principals", "-f", str(allowed_signers), "-s",
                               str(sig), f"-Overify-time={when}"], b"")
        if found.returncode != 0:
            return Check(False, "signed by a key that the allowed-signers file does not list "
                         f"for anyone (as of {at})")
        principals = [p.strip() for p in found.stdout.decode("utf-8", "replace").splitlines()
                      if p.strip()]
        if len(principals) != 1:
            return Check(False, "the signing key is listed for several principals "
                         f"({', '.join(principals)}); each key must belong to one person")
        if principals[0].casefold() != by.casefold():
            return Check(False, f"signed by {principals[0]}'s key, not by {by}")
        args = ["-Y", "verify", "-f", str(allowed_signers), "-I", principals[0], "-n",
                NAMESPACE, "-s", str(sig), f"-Overify-time={when}"]
        if revoked is not None:
            args += ["-r", str(revoked)]
        verified = _run(program, args, data)
    if verified.returncode != 0:
        detail = _last_line(verified.stderr)
        return Check(False, "the signature does not verify for this decision"
                     + (f" ({detail})" if detail else ""))
    return Check(True, f"good signature by {by}")


@contextlib.contextmanager
def _signature_file(signature: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="handoff-sig-") as folder:
        path = Path(folder) / "decision.sig"
        path.write_text(signature, encoding="ascii", errors="replace")
        yield path


def _run(program: str, args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run([program, *args], input=data, capture_output=True, timeout=60,
                              check=False, env={**os.environ, "TZ": "UTC"})
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess([program], 255, b"", str(exc).encode())


def _last_line(stream: bytes | str) -> str:
    text = stream.decode("utf-8", "replace") if isinstance(stream, bytes) else stream
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- signing a decision, and each decision's verdict --------------------------------------------


def mode(workspace: Workspace) -> str:
    """decisions.signatures in handoff.yaml: off, optional or required."""
    return workspace.settings.signatures


def sign_decision(workspace: Workspace, explicit_key: str | Path | None, data: bytes,
                  by: str, at: str) -> str | None:
    """Sign a decision's statement when the workspace asks for signatures (None when it is
    off, or optional and no key is set); the signature is checked against the allowed-signers
    file before anything is written, so a decision that would never verify is not recorded."""
    signatures = mode(workspace)
    if signatures == "off":
        if explicit_key is not None:
            raise SigningError("--key given, but decisions.signatures is off in handoff.yaml")
        return None
    source = key_source(workspace, explicit_key)
    if source is None:
        if signatures == "optional":
            return None
        raise SigningError("decisions.signatures is required, and no signing key is set: pass "
                           f"--key PATH, set {ENV_KEY}, or set git's user.signingkey with "
                           "gpg.format ssh; nothing recorded")
    with key_file(*source) as path:
        signature = sign(data, path)
    allowed, revoked = workspace.allowed_signers_path, workspace.revoked_keys_path
    assert allowed is not None
    check = check_signature(data, signature, by, at, allowed, revoked)
    if not check.ok:
        raise NotAllowedError(f"the key from {source[1]} cannot sign for {by}: {check.reason}; "
                              "nothing recorded")
    return signature


@dataclass(frozen=True)
class Verdict:
    """One packet's decision as verified: state is verified, unsigned, invalid or none."""

    path: str
    run_id: str
    status: str
    state: str
    by: str | None
    at: str | None
    reason: str

    @property
    def verified(self) -> bool:
        return self.state == "verified"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "runId": self.run_id, "status": self.status,
                "verdict": self.state, "verified": self.verified, "by": self.by, "at": self.at,
                "reason": self.reason}


def verdict_of(workspace: Workspace, packet: Packet) -> Verdict:
    """Verify the packet's recorded decision: its signature, its signer's authority from the
    runbook as of the decision's time, and that the packet is what the signer saw."""
    from .authority import authority_for

    run_id = packet.run_id or packet.path.stem
    shown = workspace.relative(packet.path)

    def verdict(state: str, reason: str, by: Any = None, at: Any = None) -> Verdict:
        return Verdict(shown, run_id, packet.status, state,
                       by if isinstance(by, str) else None, at if isinstance(at, str) else None,
                       reason)

    decision = packet.data.get("decision")
    if not isinstance(decision, dict):
        return verdict("none", "no decision is recorded")
    by, at, signature = decision.get("by"), decision.get("at"), decision.get("signature")
    if signature is None:
        return verdict("unsigned", "the decision is not signed", by, at)
    if not isinstance(signature, str) or "BEGIN SSH SIGNATURE" not in signature:
        return verdict("invalid", "decision.signature is not an SSH signature", by, at)
    data = decision_statement(run_id, decision)
    if data is None or not isinstance(by, str) or not isinstance(at, str):
        return verdict("invalid", "the decision's fields are malformed (option or missing, "
                       "by, at, digest)", by, at)
    if decision.get("digest") != content_digest(packet):
        return verdict("invalid", "the packet was edited after the decision (its content "
                       "digest no longer matches)", by, at)
    expected = "decided" if decision.get("option") is not None else "returned"
    if packet.status not in (expected, "closed"):
        return verdict("invalid", f"status is '{packet.status}' but the decision is a "
                       f"'{expected}'", by, at)
    moment = parse_iso(at)
    if moment is None:
        return verdict("invalid", f"the decision's time '{at}' is not a timestamp", by, at)
    authority = authority_for(workspace.runbook, packet.data, moment)
    if not authority.admits(workspace.runbook, by):
        why = authority.problem or f"'{by}' may not decide it (the runbook routes it to " \
            f"'{authority.owner}')"
        return verdict("invalid", why, by, at)
    allowed = workspace.allowed_signers_path
    if allowed is None:
        return verdict("invalid", "decisions.allowedSigners is not set in handoff.yaml", by, at)
    check = check_signature(data, signature, by, at, allowed, workspace.revoked_keys_path)
    return verdict("verified" if check.ok else "invalid", check.reason, by, at)


def verify_packets(workspace: Workspace, paths: Sequence[Path] = ()) -> list[Verdict]:
    """The verdict of every recorded decision in the given packets (default: packets/)."""
    from .packet import LoadFailure, load_packet
    from .workspace import PACKET_SUFFIXES, find_packet_file, packet_files

    if workspace.allowed_signers_path is None:
        raise ConfigError("nothing to verify against: set decisions.allowedSigners in "
                          "handoff.yaml (see README, 'Signed decisions')",
                          workspace.config_path)
    files: list[Path] = []
    for given in paths or [workspace.packets_dir]:
        if given.is_dir():
            files.extend(packet_files(given))
        elif given.is_file() and given.suffix in PACKET_SUFFIXES:
            files.append(given)
        elif (found := find_packet_file(workspace, str(given))) is not None:
            files.append(found)  # a runId
        else:
            raise NotFoundError("no such packet file, folder or runId", given)
    verdicts: list[Verdict] = []
    for path in sorted(dict.fromkeys(files)):
        try:
            packet = load_packet(path, workspace.settings.max_file_bytes)
        except LoadFailure as failure:
            verdicts.append(Verdict(workspace.relative(path), path.stem, "unreadable",
                                    "invalid", None, None, f"{failure.code} {failure.message}"))
            continue
        verdict = verdict_of(workspace, packet)
        if verdict.state != "none" or packet.status in ("decided", "returned", "closed"):
            if verdict.state == "none":
                verdict = Verdict(verdict.path, verdict.run_id, verdict.status, "invalid",
                                  None, None, f"status is '{packet.status}' but no decision "
                                  "is recorded")
            verdicts.append(verdict)
    return verdicts


RECORDED = frozenset({"decided", "returned", "closed"})


def decision_verdict(workspace: Workspace, packet: Packet) -> Verdict | None:
    """The verdict list, stats and show give a packet's recorded decision: None where
    decisions.signatures is off, or where there is nothing to verify (no decision, and a
    status that claims none); a decided, returned or closed packet without one is invalid."""
    if workspace.settings.signatures == "off":
        return None
    verdict = verdict_of(workspace, packet)
    if verdict.state != "none":
        return verdict
    if packet.status not in RECORDED:
        return None
    return Verdict(verdict.path, verdict.run_id, verdict.status, "invalid", None, None,
                   f"status is '{packet.status}' but no decision is recorded")


def verdict_key(workspace: Workspace) -> str:
    """A digest of everything besides the packet that its verdict depends on (settings, runbook,
    allowed-signers and revoked-keys files, which ssh-keygen): cached verdicts are keyed on it."""
    import hashlib

    digest = hashlib.sha256()
    for part in (workspace.real_root_text, repr(workspace.settings),
                 shutil.which("ssh-keygen") or ""):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for path in (workspace.runbook_path, workspace.allowed_signers_path,
                 workspace.revoked_keys_path):
        try:
            digest.update(path.read_bytes() if path is not None else b"-")
        except OSError as exc:
            digest.update(f"unreadable {exc.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def cached_verdict(workspace: Workspace, path: Path, cache: ResultCache | None,
                   key: str) -> Verdict | None:
    """decision_verdict of the packet at `path`, from the result cache while the file, the
    settings, runbook and signer files are unchanged (ssh-keygen runs twice per decision, so a
    large queue verifies each decision once); None for a file that does not load."""
    from .cache import cacheable_stat, content_hash
    from .packet import LoadFailure, load_packet

    absolute = os.path.abspath(path)
    st = cacheable_stat(absolute) if cache is not None else None
    if cache is not None and st is not None:
        part = cache.part(absolute, st, "verdict")
        if isinstance(part, dict) and part.get("key") == key:
            if part.get("state") is None:
                return None
            try:
                return Verdict(str(part["path"]), str(part["runId"]), str(part["status"]),
                               str(part["state"]), part.get("by"), part.get("at"),
                               str(part["reason"]))
            except (KeyError, TypeError):
                pass  # an entry of another shape: verify again
    try:
        packet = load_packet(path, workspace.settings.max_file_bytes, workspace.real_root_text)
    except LoadFailure:
        return None
    verdict = decision_verdict(workspace, packet)
    if cache is not None and st is not None:
        value = {"key": key, "state": None} if verdict is None else {
            "key": key, "path": verdict.path, "runId": verdict.run_id,
            "status": verdict.status, "state": verdict.state, "by": verdict.by,
            "at": verdict.at, "reason": verdict.reason}
        cache.put(absolute, st, content_hash(packet.text.encode("utf-8")), "verdict", value)
    return verdict


def failed(workspace: Workspace, verdict: Verdict) -> bool:
    """Whether a verdict fails `handoff verify`: invalid, or unsigned where signatures are
    required."""
    return verdict.state == "invalid" or (verdict.state == "unsigned"
                                          and workspace.settings.signatures == "required")


# -- the allowed-signers file -----------------------------------------------------------------

_TOKEN = re.compile(r'(?:[^\s"]|"[^"]*")+')
KEY_TYPES = ("ssh-", "ecdsa-", "sk-", "rsa-sha2-")


@dataclass(frozen=True)
class SignerEntry:
    """One line of an allowed-signers file: its principals, options and key."""

    line: int
    principals: tuple[str, ...]
    options: str
    key: str


def parse_allowed_signers(text: str) -> tuple[list[SignerEntry], list[tuple[int, str]]]:
    """The entries of an OpenSSH allowed-signers file, and the lines that are not entries."""
    entries: list[SignerEntry] = []
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = _TOKEN.findall(line)
        index = next((i for i, t in enumerate(tokens) if i > 0 and t.startswith(KEY_TYPES)),
                     None)
        if index is None or index + 1 >= len(tokens):
            problems.append((number, "not an allowed-signers entry (principals [options] "
                             "keytype key)"))
            continue
        principals = tuple(p.strip('"') for p in tokens[0].split(",") if p.strip('"'))
        entries.append(SignerEntry(number, principals, " ".join(tokens[1:index]),
                                   f"{tokens[index]} {tokens[index + 1]}"))
    return entries, problems


def signer_problems(workspace: Workspace) -> list[tuple[int, str]]:
    """What is wrong with the allowed-signers file, as (line, message): missing or unreadable,
    a key listed for several principals or a pattern, a principal in no role."""
    path = workspace.allowed_signers_path
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [(1, f"cannot read the allowed-signers file: {exc}")]
    entries, problems = parse_allowed_signers(text)
    runbook = workspace.runbook
    owners: dict[str, tuple[str, int]] = {}
    for entry in entries:
        namespaces = re.search(r'namespaces="([^"]*)"', entry.options)
        if namespaces and NAMESPACE not in namespaces.group(1).split(","):
            continue  # a key for git or another tool only: it cannot sign decisions
        if "cert-authority" in entry.options:
            problems.append((entry.line, "a cert-authority entry vouches for any name its "
                             "certificates carry; list each member's own key instead"))
        if len(entry.principals) != 1:
            problems.append((entry.line, f"one key is listed for several principals "
                             f"({', '.join(entry.principals)}); each key must belong to one "
                             "person"))
        for principal in entry.principals:
            if any(ch in principal for ch in "*?!"):
                problems.append((entry.line, f"principal '{principal}' is a pattern; name one "
                                 "person"))
            elif not runbook.roles_of(principal):
                problems.append((entry.line, f"principal '{principal}' is not a member of any "
                                 "role in the runbook"))
            seen = owners.get(entry.key)
            if seen is not None and seen[0].casefold() != principal.casefold():
                problems.append((entry.line, f"this key is also listed for '{seen[0]}' (line "
                                 f"{seen[1]}); each key must belong to one person"))
            owners.setdefault(entry.key, (principal, entry.line))
    return sorted(problems)
