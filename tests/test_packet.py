"""The packet loader: round-trips both forms, and any bytes give data or a LoadFailure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_cli.packet import LoadFailure, content_digest, load_packet

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# Printable text: YAML itself reads control characters and NEL/LS/PS as line breaks.
printable = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
                          blacklist_characters="\x85")
keys = st.text(printable, min_size=1, max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.text(printable, max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
packets = st.dictionaries(keys, values, min_size=1, max_size=8)


@SETTINGS
@given(data=packets)
def test_json_round_trip(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    assert load_packet(path).data == data


@SETTINGS
@given(data=packets, body=st.text(printable, max_size=200), crlf=st.booleans(), bom=st.booleans())
def test_markdown_round_trip(tmp_path: Path, data: dict[str, Any], body: str, crlf: bool,
                             bom: bool) -> None:
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    text = f"---\n{front}---\n{body}"
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / "p.md"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert load_packet(path).data == data


@SETTINGS
@given(raw=st.binary(max_size=400), suffix=st.sampled_from([".md", ".json"]))
def test_any_bytes_load_or_fail_cleanly(tmp_path: Path, raw: bytes, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    path.write_bytes(raw)
    try:
        packet = load_packet(path)
    except LoadFailure as failure:
        assert failure.code.startswith("H1") and failure.line >= 1
    else:
        assert isinstance(packet.data, dict)


yamlish = st.text(st.sampled_from(list("ab:-[]{}&*!|>'\"#,? \n\t%@`\\0x")), max_size=120)


@SETTINGS
@given(front=yamlish)
def test_any_frontmatter_loads_or_fails_cleanly(tmp_path: Path, front: str) -> None:
    path = tmp_path / "p.md"
    path.write_text(f"---\n{front}\n---\nbody\n", encoding="utf-8")
    try:
        load_packet(path)
    except LoadFailure as failure:
        assert 1 <= failure.line <= front.count("\n") + 3


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("---\ncreatedAt: 2026-05-24T15:00:00Z\nday: 2026-05-24\n---\n")
    assert load_packet(path).data == {"createdAt": "2026-05-24T15:00:00Z", "day": "2026-05-24"}


def test_digest_ignores_managed_keys_and_line_endings(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("---\nrunId: a\nstatus: open\n---\nBody\n")
    b.write_bytes(b"---\r\nrunId: a\r\nstatus: decided\r\nhistory: []\r\n---\r\nBody\r\n")
    assert content_digest(load_packet(a)) == content_digest(load_packet(b))
    b.write_text("---\nrunId: a\n---\nBody changed\n")
    assert content_digest(load_packet(a)) != content_digest(load_packet(b))


@pytest.mark.parametrize("text,code", [
    ("---\nrunId: [a, *x]\n---\n", "H108"),
    ("---\n? [a, b]\n: c\n---\n", "H110"),
    ("---\nrunId: !!python/name:os.system x\n---\n", "H111"),
    ("---\n1: a\n---\n", "H110"),
    ("---\nrunId: !custom x\n---\n", "H111"),
    ("---\n" + "[" * 5000 + "]" * 5000 + "\n---\n", "H108"),
])
def test_hostile_frontmatter(tmp_path: Path, text: str, code: str) -> None:
    path = tmp_path / "p.md"
    path.write_text(text)
    with pytest.raises(LoadFailure) as info:
        load_packet(path)
    assert info.value.code == code


def test_deep_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(LoadFailure) as info:
        load_packet(path)
    assert info.value.code == "H109"


@pytest.mark.parametrize(("text", "line", "column", "kind"), [
    ('{\n  "a": 1,\n}\n', 2, 9, "object"),
    ('{"a": [1, 2,  ]}', 1, 12, "array"),
    ('{\r\n  "a": {"b": 1,\r\n\r\n  }\r\n}', 2, 15, "object"),
    ('\ufeff{"a": 1,}', 1, 9, "object"),
])
def test_trailing_comma_is_placed_at_the_comma_on_every_python(
        tmp_path: Path, text: str, line: int, column: int, kind: str) -> None:
    """3.13's json reports a trailing comma at the comma, older versions at the bracket after
    it; the finding is the same on all of them."""
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(LoadFailure) as caught:
        load_packet(path)
    assert caught.value.code == "H109"
    assert (caught.value.line, caught.value.column) == (line, column)
    assert f"trailing comma before the end of the {kind}" in caught.value.message


def test_other_json_errors_keep_the_parsers_position(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{\n  "a": 1\n  "b": 2\n}\n', encoding="utf-8")
    with pytest.raises(LoadFailure) as caught:
        load_packet(path)
    assert (caught.value.line, caught.value.column) == (3, 3)
    assert "delimiter" in caught.value.message
