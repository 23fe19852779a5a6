"""The reference in docs/ covers every command and option: generated from --help, and checked."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date() -> None:
    expected = _generator().reference()
    actual = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/cli.md is out of date with the commands' --help: run "
        "`.venv/bin/python docs/generate.py` and commit docs/cli.md")


def test_every_command_and_option_has_help() -> None:
    undocumented: list[str] = []
    for name, command, _ctx in _generator().commands():
        if name != "handoff" and not (command.help or command.short_help):
            undocumented.append(name)
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden and not param.help:
                undocumented.append(f"{name} {param.opts[0]}")
    assert not undocumented, f"commands or options without help text: {undocumented}"


def test_every_command_is_in_the_readme_index() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for name, _command, _ctx in _generator().commands():
        if name != "handoff" and name.count(" ") == 1:
            assert f"`{name}" in readme, f"README does not mention `{name}`"


def test_every_local_link_in_the_docs_leads_to_a_file() -> None:
    import re

    broken: list[str] = []
    for page in [DOCS.parent / "README.md", DOCS.parent / "SECURITY.md", *DOCS.glob("*.md")]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, f"links to files that do not exist: {broken}"
