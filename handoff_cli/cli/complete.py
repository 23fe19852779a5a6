"""Shell completion of values from the current workspace: handoff types, runIds, owner roles,
statuses and a packet's option labels.

Completing runs on every Tab press, so it lists file names instead of loading packets, reads
the runbook only for types and roles, and loads just the one packet whose options it offers.
Any problem (no workspace, a broken runbook) completes nothing rather than printing an error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import typer

# Completions reach a shell that evals them (zsh): runIds are offered only when they are
# plain names, labels only when they hold no control or bidi characters.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
STATUSES = ("open", "decided", "returned", "withdrawn", "closed")
FORMATS = ("md", "json")


def _workspace(ctx: typer.Context) -> Any:
    """The workspace the command line names (-w), else $HANDOFF_WORKSPACE, else walk up."""
    from ..workspace import find_workspace

    root = ctx.find_root()
    explicit = root.params.get("workspace") if root.params else None
    return find_workspace(None, explicit)


def _matching(values: Any, incomplete: str) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v.startswith(incomplete)})


def run_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """The runIds of the packets in the review and exception queues, from their file names."""
    from ..workspace import PACKET_SUFFIXES

    try:
        workspace = _workspace(ctx)
    except Exception:
        return []
    names: set[str] = set()
    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        for _dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                stem, suffix = os.path.splitext(name)
                if suffix in PACKET_SUFFIXES and stem.startswith(incomplete) and \
                        PLAIN_NAME.match(stem):
                    names.add(stem)
    return sorted(names)


def handoff_types(ctx: typer.Context, incomplete: str) -> list[str]:
    """The handoff types of the workspace's runbook."""
    try:
        return _matching(_workspace(ctx).runbook.types, incomplete)
    except Exception:
        return []


def owner_roles(ctx: typer.Context, incomplete: str) -> list[str]:
    """The roles of the workspace's runbook."""
    try:
        return _matching(_workspace(ctx).runbook.roles, incomplete)
    except Exception:
        return []


def statuses(incomplete: str) -> list[str]:
    """Packet statuses."""
    return _matching(STATUSES, incomplete)


def packet_formats(incomplete: str) -> list[str]:
    """md or json."""
    return _matching(FORMATS, incomplete)


def _packet_word(ctx: typer.Context) -> str | None:
    """The PACKET word of the command line being completed. While an option still waits for
    its value, click parses none of the command's parameters, so read the shell's words."""
    import shlex

    line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if ctx.info_name not in words:
        return None
    takes_value = {opt for param in ctx.command.params if not getattr(param, "is_flag", False)
                   and param.param_type_name == "option" for opt in param.opts}
    rest = words[words.index(ctx.info_name) + 1:]
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _named_packet(ctx: typer.Context) -> Any:
    """The one packet named on the command line, loaded (None if there is none or it fails)."""
    from ..packet import load_packet
    from ..workspace import resolve_packet_path

    ref = ctx.params.get("packet") or ctx.params.get("run_id") or _packet_word(ctx)
    if not isinstance(ref, str) or not ref:
        return None
    try:
        workspace = _workspace(ctx)
        path = resolve_packet_path(workspace, ref)
        return load_packet(Path(path), workspace.settings.max_file_bytes)
    except Exception:
        return None


def _offered(values: list[str], incomplete: str) -> list[str]:
    """Agent-written values that start with `incomplete` and are safe to hand to a shell."""
    from ..textsafe import safe_text

    found = [v for v in values if v.startswith(incomplete) and safe_text(v) == v and v.strip()]
    if os.environ.get("_HANDOFF_COMPLETE") == "complete_bash":
        # bash inserts a completion as typed: escape spaces and shell characters so a value
        # stays one word (a backslash, not quotes, so that it still starts with what was typed)
        return [re.sub(r"([^\w@%+=:,./-])", r"\\\1", v) for v in found]
    return found


def evidence_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """The evidence names of the packet named on the command line (only that one is read)."""
    from ..packet import evidence_entries

    packet = _named_packet(ctx)
    return [] if packet is None else _offered([n for n, _ in evidence_entries(packet.data)],
                                              incomplete)


def option_labels(ctx: typer.Context, incomplete: str) -> list[str]:
    """The option labels of the packet named on the command line (only that packet is read);
    a label that is a number is not offered, since --option would read it as a position."""
    from ..packet import option_labels as labels_of
    from ..textsafe import option_position

    packet = _named_packet(ctx)
    if packet is None:
        return []
    return _offered([label for label in labels_of(packet.data)
                     if option_position(label) is None], incomplete)
