"""Every lint rule's stable id, name, default severity and one-line documentation.

Ids never change meaning; handoff.yaml may set each (by id or name) to error, warning or off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A documented lint rule."""

    code: str
    name: str
    severity: str
    summary: str
    in_exceptions: bool = True  # also applies to files in the exception queue


RULES: tuple[Rule, ...] = (
    # Reading the file
    Rule("H101", "file-unreadable", "error", "The file cannot be read (permissions, a folder, I/O error)."),
    Rule("H102", "not-utf8", "error", "The file is not valid UTF-8."),
    Rule("H103", "file-too-large", "error", "The file is larger than lint.maxFileBytes (1 MiB by default)."),
    Rule("H104", "binary-file", "error", "The file contains NUL bytes."),
    Rule("H105", "empty-file", "error", "The file is empty or only whitespace."),
    Rule("H106", "frontmatter-missing", "error", "A Markdown packet does not start with a '---' frontmatter line."),
    Rule("H107", "frontmatter-unterminated", "error", "The frontmatter has no closing '---' line."),
    Rule("H108", "yaml-syntax", "error", "The frontmatter is not valid YAML (or repeats a key)."),
    Rule("H109", "json-syntax", "error", "A JSON packet is not valid JSON (or repeats a key)."),
    Rule("H110", "not-a-mapping", "error", "The packet is not a mapping of string keys (a list, a scalar, empty)."),
    Rule("H111", "unsafe-yaml-tag", "error", "The YAML uses a tag such as !!python/object; it is refused, never executed."),
    Rule("H112", "yaml-aliases", "error", "The YAML uses anchors/aliases (alias bombs) or is too large a tree."),
    Rule("H113", "conflict-markers", "error", "The file has git conflict markers ('<<<<<<<', '>>>>>>>'): an unresolved merge conflict."),
    Rule("H114", "outside-workspace", "error", "A PATH given to lint is not inside any handoff workspace (no handoff.yaml in it or above it)."),
    # Shape
    Rule("H201", "schema", "error", "The packet violates the packet JSON Schema (handoff schema)."),
    Rule("H202", "missing-field", "error", "handoffType, agentGoal or agentNextActionAfterDecision is missing; set to warning for lightweight packets.", in_exceptions=False),
    # The four questions
    Rule("H301", "goal-unanswered", "error", "Question 1: agentGoal is empty, a placeholder or 'please review'-style text."),
    Rule("H302", "trigger-unanswered", "error", "Question 1: triggerReason is empty, a placeholder or vague."),
    Rule("H303", "evidence-unanswered", "error", "Question 2: no evidence is listed."),
    Rule("H304", "options-unanswered", "error", "Question 3: no options are offered.", in_exceptions=False),
    Rule("H305", "option-without-risk", "error", "Question 3: an option has no risk (or a vague one).", in_exceptions=False),
    Rule("H306", "next-action-unanswered", "error", "Question 4: agentNextActionAfterDecision is empty, a placeholder or vague.", in_exceptions=False),
    Rule("H307", "duplicate-option", "error", "Two options have the same label.", in_exceptions=False),
    Rule("H308", "numeric-option-label", "error", "An option's label is a number, which decide and the prompt read as an option's position.", in_exceptions=False),
    # Evidence
    Rule("H401", "evidence-missing", "error", "An evidence path does not exist in the workspace."),
    Rule("H402", "evidence-absolute", "error", "An evidence path is absolute; paths are relative to the workspace root."),
    Rule("H403", "evidence-outside", "error", "An evidence path leads outside the workspace ('..' or a symlink); it is never opened."),
    Rule("H404", "evidence-incomplete", "error", "Evidence the runbook requires for the handoff type is not listed.", in_exceptions=False),
    # The runbook
    Rule("H501", "unknown-type", "error", "handoffType is not a type in the runbook."),
    Rule("H502", "unknown-role", "error", "ownerRole is not a role in the runbook."),
    Rule("H503", "owner-mismatch", "error", "ownerRole differs from the runbook's routing for the type ('handoff route' repairs it).", in_exceptions=False),
    Rule("H504", "option-not-allowed", "error", "An option is not among the runbook's responses for the type.", in_exceptions=False),
    Rule("H505", "unplanned-failure", "error", "The trigger is an unplanned failure (a runbook exception trigger); it belongs in the exception queue.", in_exceptions=False),
    # Identity
    Rule("H601", "duplicate-runid", "error", "Another packet has the same runId."),
    Rule("H602", "runid-filename", "error", "runId differs from the file name (<runId>.md or <runId>.json)."),
    Rule("H603", "unfilled-placeholder", "error", "A template $placeholder was never filled."),
    # Decisions
    Rule("H701", "decision-unknown-option", "error", "The decision names an option that the packet does not offer."),
    Rule("H702", "decision-not-member", "error", "The decision was recorded by someone the runbook does not let decide it (routed owner, or a role above it once overdue or escalated)."),
    Rule("H703", "decision-digest-mismatch", "error", "The packet was edited after the decision (its digest no longer matches)."),
    Rule("H704", "status-inconsistent", "error", "status and decision disagree (e.g. decided without a decision)."),
    Rule("H705", "due-too-late", "error", "dueBy is later than the runbook allows (createdAt, or the last escalation, plus the type's timeToDecide)."),
    Rule("H706", "escalation-unrecorded", "error", "escalatedTo is set without the 'escalated' history event that 'handoff route' records."),
    Rule("H707", "managed-time-invalid", "error", "createdAt or dueBy is not a timestamp (or lies past the ends of the calendar), so no due time or escalation applies ('handoff route' repairs it)."),
    # Signatures (decisions.signatures in handoff.yaml)
    Rule("H801", "signature-missing", "error", "With decisions.signatures required, a recorded decision or return is not signed."),
    Rule("H802", "signature-invalid", "error", "A decision's signature does not verify: wrong signer, not in the allowed-signers file, revoked, or not for this packet and decision."),
    Rule("H803", "allowed-signers", "error", "The allowed-signers file is missing, or a key is listed for several principals, or a principal is not a member of any role."),
    # Lint itself
    Rule("H901", "unused-suppression", "warning", "A '# handoff: disable=' comment or a lint.ignore entry suppressed nothing (or names no rule)."),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
RULES_BY_KEY: dict[str, Rule] = {**RULES_BY_CODE, **{rule.name: rule for rule in RULES}}
