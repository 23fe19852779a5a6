"""Tests for handoff_cli.editing: managed keys change, every other byte stays."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_positions import KEY_NAMES, json_values, yaml_documents

from handoff_cli.editing import EditError, set_keys


def frontmatter(text: str) -> Any:
    start = text.index("\n") + 1
    end = min(i for i in (text.find("\n---", start - 1), text.find("\n...", start - 1)) if i >= 0)
    return yaml.safe_load(text[start : end + 1])


# ---------------------------------------------------------------- hand-written Markdown

PACKET = """\ufeff---\r
# Written by the refund agent\r
runId: refund-review-2026-05-24-1500   # matches the file name\r
"handoffType": 'customer_exception'\r
triggerReason: >-\r
  Refund amount exceeds standard policy\r
  and customer has two prior complaints\r
evidence:\r
  orderFile: workspace/refunds/2026-05-24/orders.xlsx\r
  notes: |\r
    literal\r
      block\r
options: [{label: approve refund, risk: sets exception precedent},\r
  {label: offer credit, risk: may not satisfy customer}]\r
status: open  # managed by handoff\r
# decision goes below\r
\r
ownerRole: customer-success-lead\r
# the end\r
---\r
# Refund review\r
\r
Body with --- and: yaml-looking text\r
"""


def test_replace_scalar_keeps_its_trailing_comment_and_everything_else() -> None:
    out = set_keys(PACKET, "md", {"status": "decided"})
    assert out == PACKET.replace("status: open  #", "status: decided  #")


def test_replace_and_append_structured_values_in_file_line_ending() -> None:
    decision = {"option": "approve refund", "by": "ana@example.com", "note": "ok: #1\nthanks"}
    history = [{"event": "created", "at": "2026-05-24T15:00:00Z"}, {"event": "decided"}]
    out = set_keys(PACKET, "md", {"status": "decided", "decision": decision, "history": history})
    expected_tail = (
        "ownerRole: customer-success-lead\r\n"
        "# the end\r\n"
        "decision:\r\n"
        "  option: approve refund\r\n"
        "  by: ana@example.com\r\n"
        '  note: "ok: #1\\nthanks"\r\n'
        "history:\r\n"
        "  - event: created\r\n"
        "    at: '2026-05-24T15:00:00Z'\r\n"
        "  - event: decided\r\n"
        "---\r\n"
    )
    assert out.startswith(PACKET[: PACKET.index("status:")] + "status: decided  # managed")
    assert expected_tail + PACKET.split("---\r\n")[-1] in out
    data = frontmatter(out)
    assert data["decision"] == decision and data["history"] == history


def test_replace_block_values_spanning_lines() -> None:
    out = set_keys(
        PACKET,
        "md",
        {"options": [{"label": "hold", "risk": "none"}], "triggerReason": "short", "evidence": {}},
    )
    assert out == PACKET.replace(
        ">-\r\n  Refund amount exceeds standard policy\r\n  and customer has two prior complaints",
        "short",
    ).replace(
        "options: [{label: approve refund, risk: sets exception precedent},\r\n"
        "  {label: offer credit, risk: may not satisfy customer}]",
        "options:\r\n  - label: hold\r\n    risk: none",
    ).replace(
        "evidence:\r\n  orderFile: workspace/refunds/2026-05-24/orders.xlsx\r\n"
        "  notes: |\r\n    literal\r\n      block",
        "evidence: {}",
    )


def test_remove_keys_keeps_neighbouring_comments_and_blank_lines() -> None:
    out = set_keys(PACKET, "md", {}, remove=["status", "runId", "ownerRole", "missing"])
    assert out == (
        PACKET.replace("runId: refund-review-2026-05-24-1500   # matches the file name\r\n", "")
        .replace("status: open  # managed by handoff\r\n", "")
        .replace("ownerRole: customer-success-lead\r\n", "")
    )


def test_set_then_set_again_is_stable() -> None:
    updates = {"status": "decided", "decision": {"option": "x", "at": None}, "n": 1.5}
    once = set_keys(PACKET, "md", updates)
    assert set_keys(once, "md", updates) == once


def test_empty_frontmatter_gets_keys_and_awkward_strings_round_trip() -> None:
    values: dict[str, object] = {
        "yes": "yes",
        "null": "null",
        "dash": "- item",
        "colon": "a: b",
        "hash": "# not a comment",
        "dollar": "$placeholder",
        "quotes": "'\"",
        "breaks": "a\nb\r\nc\u2028d\x85e",
        "control": "\x00\x07\t\x1b[31m",
        "empty": "",
        "spaces": "  padded  ",
        "number": "012",
        "date": "2026-05-24",
        "unicode": "naïve 😀",
        "float": 1e300,
        "inf": math.inf,
        "int": -7,
        "bool": False,
        "none": None,
        "empty list": [],
        "nested": [[1, [2]], {"k": {"j": []}}],
    }
    out = set_keys("---\n---\nbody", "md", values)
    assert out.startswith("---\n'yes': 'yes'\n'null': 'null'\ndash: '- item'\n")
    assert out.endswith("\n---\nbody")
    assert frontmatter(out) == values
    # One line per scalar value, five for "nested", plus both markers and the body.
    assert len(out.split("\n")) == len(values) - 1 + 5 + 3


def test_no_trailing_newline_and_dot_terminator_are_kept() -> None:
    text = "---\na: 1\n...\nbody without newline"
    assert set_keys(text, "md", {"b": 2}) == "---\na: 1\nb: 2\n...\nbody without newline"
    assert set_keys("---\na: 1\n---", "md", {"a": 2}) == "---\na: 2\n---"


def test_indented_top_level_mapping_keeps_its_indentation() -> None:
    text = "---\n  a: 1\n  b:\n    c: 2\n---\n"
    out = set_keys(text, "md", {"b": [1], "d": {"e": 1}})
    assert out == "---\n  a: 1\n  b:\n    - 1\n  d:\n    e: 1\n---\n"


def test_anchors_and_aliases_on_untouched_keys_survive() -> None:
    text = "---\nbase: &b {x: 1}\ncopy: *b\nstatus: open\n---\n"
    out = set_keys(text, "md", {"status": "closed"})
    assert out == text.replace("open", "closed")


def test_removing_an_anchor_that_is_still_used_raises() -> None:
    with pytest.raises(EditError):
        set_keys("---\nbase: &b {x: 1}\ncopy: *b\n---\n", "md", {}, remove=["base"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter\n", "no frontmatter"),
        ("\n---\na: 1\n---\n", "no frontmatter"),
        ("---\na: 1\n", "unterminated"),
        ("---\n- a\n---\n", "not a mapping"),
        ("---\njust text\n---\n", "not a mapping"),
        ("---\n{a: 1}\n---\n", "flow mapping"),
        ("---\na: 1\nb: 2\na: 3\n---\n", "duplicate key 'a'"),
        ("---\na: [1\n---\n", "not valid YAML"),
        ("---\n? status\n: open\n---\n", "cannot be edited"),
    ],
)
def test_markdown_that_cannot_be_edited_raises_edit_error(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        set_keys(text, "md", {"status": "decided"})


def test_a_key_both_set_and_removed_is_an_error() -> None:
    with pytest.raises(EditError, match="both set and removed"):
        set_keys("---\na: 1\n---\n", "md", {"a": 2}, remove=["a"])


def test_non_string_keys_are_not_confused_with_string_keys() -> None:
    text = "---\n1: int key\nnull: null key\n---\n"
    out = set_keys(text, "md", {"1": "string key"})
    assert yaml.safe_load(out.split("---\n")[1]) == {
        1: "int key",
        None: "null key",
        "1": "string key",
    }


# ---------------------------------------------------------------- hand-written JSON

SEED = """{
  "runId": "refund-review-2026-05-24-1500",
  "evidence": {"orderFile": "orders.xlsx"},
  "options": [
    {"label": "approve refund", "risk": "sets exception precedent"}
  ],
  "status": "open"
}
"""


def test_json_replace_and_append_match_the_file_indentation() -> None:
    out = set_keys(SEED, "json", {"status": "decided", "decision": {"option": "approve refund"}})
    assert out == SEED.replace(
        '  "status": "open"\n',
        '  "status": "decided",\n  "decision": {\n    "option": "approve refund"\n  }\n',
    )


def test_json_remove_first_last_and_only_keys() -> None:
    assert set_keys(SEED, "json", {}, ["runId"]) == SEED.replace(
        '  "runId": "refund-review-2026-05-24-1500",\n', ""
    )
    assert set_keys(SEED, "json", {}, ["status"]) == SEED.replace(',\n  "status": "open"', "")
    assert set_keys('{"a": 1}\n', "json", {}, ["a"]) == "{}\n"
    assert set_keys('{ "a": 1 }', "json", {"b": [1, 2]}, ["a"]) == '{ "b": [1, 2] }'


def test_json_compact_files_stay_on_one_line() -> None:
    assert set_keys('{"a":1,"b":2}', "json", {"c": {"d": [1]}}) == '{"a":1,"b":2,"c":{"d":[1]}}'
    assert set_keys("{}", "json", {"a": "é", "b": None}) == '{"a": "é", "b": null}'


def test_json_empty_multiline_object_crlf_and_bom() -> None:
    out = set_keys("\ufeff{\r\n}\r\n", "json", {"a": [1], "b": 2})
    assert out == '\ufeff{\r\n  "a": [\r\n    1\r\n  ],\r\n  "b": 2\r\n}\r\n'


def test_json_tab_indentation_and_untouched_key_spacing() -> None:
    text = '{\n\t"a" : [1,2],\n\t"b" : {"x" : 1}\n}'
    assert (
        set_keys(text, "json", {"b": {"y": 2}})
        == '{\n\t"a" : [1,2],\n\t"b" : {\n\t\t"y" : 2\n\t}\n}'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not an object"),
        ('{"a": 1', "not valid JSON"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ],
)
def test_json_that_cannot_be_edited_raises_edit_error(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        set_keys(text, "json", {"b": 1})


# ---------------------------------------------------------------- properties

managed_names = st.sampled_from([*KEY_NAMES, "decision", "history", "dueBy", "new key", "é"])


def expected_data(
    old: dict[str, Any], updates: dict[str, Any], removed: list[str]
) -> dict[str, Any]:
    data = {k: v for k, v in old.items() if k not in removed}
    data.update(updates)
    return data


def assert_in_order(pieces: list[str], text: str) -> None:
    pos = 0
    for piece in pieces:
        found = text.find(piece, pos)
        assert found >= 0, f"{piece!r} missing or out of order"
        pos = found + len(piece)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    yaml_documents(),
    st.dictionaries(managed_names, json_values, max_size=4),
    st.lists(managed_names, max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_markdown_edits_change_only_the_edited_keys(
    segments: list[tuple[str | None, str]],
    updates: dict[str, Any],
    remove: list[str],
    crlf: bool,
    bom: bool,
) -> None:
    removed = [name for name in remove if name not in updates]
    eol = "\r\n" if crlf else "\n"
    head = ("\ufeff" if bom else "") + "---" + eol
    tail = "---" + eol + "# Body" + eol + eol + "text ---" + eol
    pieces = [text.replace("\n", eol) for _, text in segments]
    text = head + "".join(pieces) + tail
    old = frontmatter(text) or {}

    out = set_keys(text, "md", updates, removed)

    new = frontmatter(out) or {}
    expected = expected_data(old, updates, removed)
    assert new == expected and list(new) == list(expected)
    assert out.startswith(head) and out.endswith(tail)
    edited = set(updates) | set(removed)
    kept = []
    after_removed = False
    for (owner, _), piece in zip(segments, pieces, strict=True):
        blank = not piece.strip()
        # Blank lines right after a removed entry may go with it: left behind, they would
        # join a `|+` block scalar above and change its value.
        if owner not in edited and not (blank and after_removed):
            kept.append(piece)
        after_removed = owner in removed or (blank and after_removed)
    assert_in_order(kept, out)
    if crlf:
        assert "\n" not in out.replace("\r\n", "")
    else:
        assert "\r" not in out
    assert set_keys(out, "md", updates, removed) == out


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6) | managed_names, json_values, max_size=6),
    st.dictionaries(st.text(max_size=6) | managed_names, json_values, max_size=3),
    st.lists(st.text(max_size=6) | managed_names, max_size=3),
    st.sampled_from([None, 0, 2, 4, "\t"]),
    st.sampled_from([None, (",", ":"), (", ", ": ")]),
    st.booleans(),
    st.sampled_from(["", "\n"]),
)
def test_json_edits_change_only_the_edited_keys(
    old: dict[str, Any],
    updates: dict[str, Any],
    remove: list[str],
    indent: int | str | None,
    separators: tuple[str, str] | None,
    ascii: bool,
    trailer: str,
) -> None:
    removed = [name for name in remove if name not in updates]
    text = json.dumps(old, indent=indent, separators=separators, ensure_ascii=ascii) + trailer

    out = set_keys(text, "json", updates, removed)

    new = json.loads(out)
    expected = expected_data(old, updates, removed)
    assert new == expected and list(new) == list(expected)
    assert out.endswith("}" + trailer)
    untouched = [
        json.dumps({k: v}, indent=indent, separators=separators, ensure_ascii=ascii)
        for k, v in old.items()
        if k not in updates and k not in removed
    ]
    assert_in_order([member.strip("{}").strip() for member in untouched if member != "{}"], out)
    if not ascii and len(old) >= 2:
        # A file written by json.dumps stays exactly what json.dumps would write.
        assert (
            out
            == json.dumps(expected, indent=indent, separators=separators, ensure_ascii=False)
            + trailer
        )


def test_removing_a_keep_block_after_a_keep_block() -> None:
    # Found by the property test: the blank line `status: |+` owns must go with it, or it
    # joins `decision: |+` above and changes that value.
    text = "---\nrunId: a\ndecision: |+\n  kept\n\nstatus: |+\n  kept\n\nhistory: x\n---\n"
    assert set_keys(text, "md", {}, remove=["status"]) == (
        "---\nrunId: a\ndecision: |+\n  kept\n\nhistory: x\n---\n"
    )


def test_removing_a_keep_block_keeps_blank_lines_when_harmless() -> None:
    text = "---\nrunId: a\nnote: |+\n  kept\n\n\ndecision: open\n---\nbody\n"
    expected = "---\nrunId: a\n\n\ndecision: open\n---\nbody\n"
    assert set_keys(text, "md", {}, remove=["note"]) == expected


def test_removing_a_key_after_a_keep_block_takes_its_blank_separator() -> None:
    # Found by the property test: the blank line after `decision` would join `options: |+`.
    text = "---\noptions: |+\n  kept\n\ndecision: open\n\nstatus: open\n---\n"
    out = set_keys(text, "md", {}, remove=["decision"])
    assert out == "---\noptions: |+\n  kept\n\nstatus: open\n---\n"
