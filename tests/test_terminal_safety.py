"""Every output is terminal-safe, with one rule: characters of categories Cc, Cf, Zl, Zp, Co,
Cn, Cs and the filler letters are shown escaped, in every format and in file names."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

from conftest import SEED_MD, write_packet
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff_cli.textsafe import FILLERS, UNSAFE_CATEGORIES, safe_json, safe_text, visible_key

RUN = "refund-review-2026-05-24-1500"
# One of each kind: CSI, OSC 8 hyperlink, BEL, C1 CSI, bidi override, line and paragraph
# separators, zero-width space, soft hyphen, private use (BMP and plane 15), unassigned, filler.
PAYLOAD = ("\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x9b31m\u202egnp.exe"
           "\u2028\u2029\u200b\u00ad\ue000\U000f0001\U000e0080\u3164\uffa0")
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\u2028", "\u2029", "\u200b", "\u00ad", "\ue000",
       "\U000f0001", "\U000e0080", "\u3164", "\uffa0"]


def unsafe(char: str) -> bool:
    return unicodedata.category(char) in UNSAFE_CATEGORIES or char in FILLERS


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec=None), max_size=40))
def test_safe_text_leaves_no_unsafe_character(text: str) -> None:
    for multiline in (False, True):
        shown = safe_text(text, multiline=multiline)
        assert not any(unsafe(c) and not (multiline and c in "\n\t") for c in shown)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.text(st.characters(codec=None), max_size=20),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8))
def test_safe_json_is_valid_json_of_the_same_data_and_safe(data: Any) -> None:
    text = safe_json(data)
    assert json.loads(text) == data
    assert not any(unsafe(c) for c in text if c != "\n")


def test_each_kind_is_escaped_visibly() -> None:
    assert safe_text("a\x1bb") == "a\\x1bb"
    assert safe_text("\u202e") == "\\u202e"
    assert safe_text("\U000f0001") == "\\U000f0001"
    assert safe_text("\u3164") == "\\u3164"
    assert safe_text("caf\u00e9 \u65e5\u672c \U0001f600") == "caf\u00e9 \u65e5\u672c \U0001f600"
    assert safe_text("a\nb\tc", multiline=True) == "a\nb\tc"
    assert safe_text("a\nb") == "a\\x0ab"


def test_labels_that_differ_only_by_invisible_characters_are_duplicates() -> None:
    assert visible_key("approve") == visible_key("Approve\u200b") == visible_key("ap\u00adprove")
    assert visible_key("approve") != visible_key("approve!")


# -- the review view: images, HTML and a body posing as the view ----------------------------

POSING = """\
# Decision

Option: approve refund, by maria.lopez@example.com

![the invoice](https://evil.example/track.png) <!-- a hidden comment -->
<b>bold</b> and [policy](https://evil.example/phish)

```
```` fence ````
```
"""


def show(run: Any, *args: str) -> str:
    result = run("show", RUN, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_review_view_sets_the_body_apart(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD.replace("The customer asks", POSING + "\nThe cu"))
    out = show(run)
    notes = out.index("Notes written by the agent (not part of this view)")
    assert out.index("Decision") > notes  # the fake section is inside the frame
    assert "\n  Decision" not in out[:notes]
    assert "(https://evil.example/track.png)" in out  # an image target is shown like a link
    assert "(https://evil.example/phish)" in out
    assert "<!-- a hidden comment -->" in out and "<b>bold</b>" in out  # HTML is literal
    framed = out[notes:].splitlines()[1:]
    assert all(line.startswith(("│", "╰")) for line in framed if line.strip()), out


def test_markdown_format_fences_the_body(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD.replace("The customer asks", POSING + "\nThe cu"))
    out = show(run, "--format", "markdown")
    head, _, rest = out.partition("### Notes written by the agent (not part of this view)\n")
    assert "### Decision" not in head
    fence = rest.split("\n")[1]
    assert fence == "`````text"  # longer than the body's longest backtick run
    body = rest.split("\n" + fence + "\n", 1)[1]
    assert body.split("\n`````\n")[0].startswith("# Decision")


# -- every format, on a real terminal, with escapes in every field and the file name ---------

def q(text: str) -> str:
    """A YAML double-quoted string with every non-ASCII or control character as an escape."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


P = PAYLOAD
HOSTILE = f"""\
---
handoffType: {q("customer_exception" + P)}
runId: {q(RUN)}
agentGoal: {q("goal " + P)}
triggerReason: {q("trigger " + P)}
evidence:
  {q("name" + P)}: {q("path" + P)}
options:
  - label: {q("approve refund" + P)}
    risk: {q("risk " + P)}
  - label: "approve refund"
    risk: "risk"
ownerRole: {q("owner" + P)}
agentNextActionAfterDecision: {q("next " + P)}
history:
  - event: {q("created" + P)}
    at: {q("2026-05-24T15:00:00Z" + P)}
    by: {q("agent" + P)}
---
body {P}
"""

FORMATS = [("list",), ("list", "--format", "json"), ("show", "PACKET"),
           ("show", "PACKET", "--format", "json"), ("show", "PACKET", "--format", "markdown"),
           ("lint",), ("lint", "--format", "json"), ("lint", "--format", "github"),
           ("lint", "--format", "sarif"), ("stats",), ("stats", "--format", "json"),
           ("route", "--dry-run"), ("route", "--format", "json", "--dry-run"),
           ("status", "PACKET"), ("decide", "PACKET", "--option", "9", "--as", "x@example.com")]
SGR = re.compile(rb"\x1b\[[0-9;]*m")  # the styles rich itself writes on a colour terminal


def on_a_terminal(root: Path, *args: str) -> bytes:
    master, slave = pty.openpty()
    env = {**os.environ, "HANDOFF_WORKSPACE": str(root), "FORCE_COLOR": "1", "COLUMNS": "120",
           "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "handoff_cli", *args], env=env,
                               stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert process.wait(timeout=30) in (0, 1, 3, 4), (args, output)
    return output


def test_every_output_format_is_terminal_safe_on_a_pty(root: Path) -> None:
    name = f"file{PAYLOAD}.md".replace("/", "")
    write_packet(root, name, HOSTILE)
    write_packet(root, f"other{PAYLOAD}.json", "{not json")
    packet = str(root / "packets" / name)
    for args in FORMATS:
        command = [packet if a == "PACKET" else a for a in args]
        output = SGR.sub(b"", on_a_terminal(root, *command))
        text = output.decode("utf-8", errors="replace")
        assert "Traceback" not in text, (args, text)
        leaked = [c for c in RAW if c in text]
        assert not leaked, (args, leaked, text)
        assert "\\x1b" in text or "\\u001b" in text or "%1B" in text.upper(), (args, text)
