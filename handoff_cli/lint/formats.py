"""Lint output formats: text (path:line:col: RULE message), json, github annotations, SARIF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import quote

from .. import __version__
from ..textsafe import safe_json, safe_text
from .engine import Finding
from .registry import RULES, RULES_BY_CODE

FORMATS = ("text", "json", "github", "sarif")


def format_findings(findings: Sequence[Finding], fmt: str) -> str:
    """Render findings in one of FORMATS; the result ends with a newline unless empty."""
    if fmt == "json":
        return safe_json([f.as_dict() for f in findings]) + "\n"
    if fmt == "sarif":
        return safe_json(sarif(findings)) + "\n"
    if fmt == "github":
        return "".join(github_line(f) + "\n" for f in findings)
    return "".join(text_line(f) + "\n" for f in findings)


def text_line(finding: Finding) -> str:
    """`path:line:col: RULE message` with the message kept on one line."""
    suffix = "" if finding.severity == "error" else " (warning)"
    message = _one_line(finding.message)
    path = _one_line(finding.path)  # a file name is agent text too
    return f"{path}:{finding.line}:{finding.column}: {finding.rule} {message}{suffix}"


def github_line(finding: Finding) -> str:
    """A GitHub Actions workflow command that annotates the line."""
    level = "error" if finding.severity == "error" else "warning"

    def prop(value: str) -> str:
        return (value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
                .replace(":", "%3A").replace(",", "%2C"))

    message = safe_text(finding.message, multiline=True)
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    path = prop(safe_text(finding.path))
    return (f"::{level} file={path},line={finding.line},col={finding.column},"
            f"title={prop(finding.rule + ' ' + RULES_BY_CODE[finding.rule].name)}::{message}")


def sarif(findings: Sequence[Finding]) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run."""
    rules = [
        {"id": rule.code, "name": rule.name, "shortDescription": {"text": rule.summary},
         "defaultConfiguration": {"level": rule.severity if rule.severity != "off" else "none"}}
        for rule in RULES
    ]
    index = {rule.code: i for i, rule in enumerate(RULES)}
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": quote(f.path.replace(os.sep, "/"))},
                "region": {"startLine": f.line, "startColumn": f.column},
            }}],
        }
        for f in findings
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "handoff", "version": __version__,
                                      "informationUri": "https://github.com/handoff-cli/handoff",
                                      "rules": rules}},
                  "results": results}],
    }


def _one_line(text: str) -> str:
    return safe_text(text)
