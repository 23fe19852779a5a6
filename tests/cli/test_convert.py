"""`handoff convert PACKET --to md|json [--keep]`: every key, the body and the history kept;
the result lints the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_cli.convert import converted_text
from handoff_cli.packet import (
    Packet,
    content_digest,
    load_packet,
    parse_json_object,
    parse_markdown,
)

RUN = "refund-review-2026-05-24-1500"
CORPUS = Path(__file__).parent.parent / "corpus"


def lint_rules(run: Any, *paths: str) -> list[tuple[str, str]]:
    found = json.loads(run("lint", "-f", "json", *paths).stdout)
    return sorted((Path(f["path"]).stem, f["rule"]) for f in found)


def test_markdown_to_json_and_back(run: Any, root: Path) -> None:
    md = write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "ownerRole: customer-success-lead", "ownerRole: customer-success-lead  # routed"))
    before = load_packet(md)
    result = run("convert", RUN, "--to", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"packets/{RUN}.json\n"
    assert not md.exists()
    as_json = json.loads((root / "packets" / f"{RUN}.json").read_text())
    assert as_json["body"] == before.body
    assert {k: v for k, v in as_json.items() if k != "body"} == before.data
    assert run("lint").exit_code == 0
    result = run("convert", f"packets/{RUN}.json", "--to", "md")
    assert result.exit_code == 0, result.output
    again = load_packet(md)
    assert again.data == before.data and again.body == before.body
    assert not (root / "packets" / f"{RUN}.json").exists()


def test_a_decided_packet_keeps_its_history_and_digest(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert run("decide", RUN, "--option", "offer credit", "--note", "credit 200",
               "--as", "maria.lopez@example.com").exit_code == 0
    before = load_packet(root / "packets" / f"{RUN}.md")
    status = json.loads(run("status", RUN).stdout)
    assert run("convert", RUN, "--to", "json").exit_code == 0
    after = load_packet(root / "packets" / f"{RUN}.json")
    assert after.data["history"] == before.data["history"]
    assert content_digest(after) == content_digest(before) == before.data["decision"]["digest"]
    assert json.loads(run("status", RUN).stdout) | {"path": None} == status | {"path": None}
    result = run("lint")
    assert result.exit_code == 0, result.stdout


def test_keep_and_never_overwrite(run: Any, root: Path) -> None:
    md = write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("convert", RUN, "--to", "json", "--keep")
    assert result.exit_code == 0 and md.exists()
    assert "both files have the same runId" in result.stderr
    assert ("refund-review-2026-05-24-1500", "H601") in lint_rules(run)
    target = root / "packets" / f"{RUN}.json"
    target.write_text("{}")
    result = run("convert", f"packets/{RUN}.md", "--to", "json")
    assert result.exit_code == 3
    assert "already exists" in result.stderr
    assert md.read_text() == SEED_MD and target.read_text() == "{}"


def test_usage_errors(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("convert", RUN, "--to", "md")
    assert result.exit_code == 2 and "already a .md packet" in result.stderr
    result = run("convert", RUN, "--to", "yaml")
    assert result.exit_code == 2 and "--to must be one of md, json" in result.stderr
    assert run("convert", "no-such-run", "--to", "json").exit_code == 1


def test_a_body_key_and_a_body_cannot_both_go_to_json(run: Any, root: Path) -> None:
    text = SEED_MD.replace("ownerRole:", "body: also here\nownerRole:")
    md = write_packet(root, f"{RUN}.md", text)
    result = run("convert", RUN, "--to", "json")
    assert result.exit_code == 1
    assert "already has one" in result.stderr
    assert md.read_text() == text and not (root / "packets" / f"{RUN}.json").exists()


def test_the_runid_names_the_new_file(run: Any, root: Path) -> None:
    write_packet(root, "oddly-named.md", SEED_MD)
    assert run("convert", "packets/oddly-named.md", "--to", "json").stdout == \
        f"packets/{RUN}.json\n"


def _try_load(path: Path) -> bool:
    try:
        load_packet(path)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("name", [p.name for p in sorted(CORPUS.iterdir())
                                  if p.suffix in (".md", ".json") and _try_load(p)])
def test_corpus_packets_lint_the_same_after_converting(run: Any, root: Path, name: str) -> None:
    shutil.copy(CORPUS / name, root / "packets" / name)
    packet = load_packet(root / "packets" / name)
    stem = packet.run_id or Path(name).stem
    before = {rule for _, rule in lint_rules(run) if rule not in ("H602",)}
    to = "md" if name.endswith(".json") else "json"
    result = run("convert", f"packets/{name}", "--to", to)
    if "H113" in before:  # an unresolved merge is refused, the file left as it was
        assert result.exit_code == 1 and "resolve the merge first" in result.stderr
        assert (root / "packets" / name).read_bytes() == (CORPUS / name).read_bytes()
        return
    assert result.exit_code == 0, result.output
    after = {rule for _, rule in lint_rules(run) if rule not in ("H602",)}
    assert after == before, (stem, before, after)


KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
               max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                            max_size=40))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(KEYS, VALUES, max_size=8),
       body=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60))
def test_round_trip_keeps_keys_and_body(data: dict[str, Any], body: str) -> None:
    """Whatever a JSON packet holds comes back from Markdown the same (or is refused)."""
    data.pop("body", None)
    if body.strip():
        data["body"] = body
    text = json.dumps(data, indent=2, ensure_ascii=False)
    packet = Packet(path=Path("p.json"), kind="json", text=text, data=parse_json_object(text),
                    body=body if body.strip() else "")
    try:
        md = converted_text(packet, "md")
    except Exception as exc:  # refused: must be the clear PacketError, never a crash
        assert type(exc).__name__ == "PacketError", exc
        return
    again = parse_markdown(Path("p.md"), md)
    assert again.data == {k: v for k, v in data.items() if k != "body"}
    assert again.body.strip() == body.strip()
