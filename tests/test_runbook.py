"""The runbook: field rules, escalation chains, and clear errors (file and line) for broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff_cli.errors import ConfigError
from handoff_cli.runbook import load_runbook

ROLES = """\
roles:
  lead:
    escalatesTo: manager
  manager:
    escalatesTo: director
  director: {}
  vip-desk: {}
"""


def runbook_file(tmp_path: Path, types: str, roles: str = ROLES) -> Path:
    path = tmp_path / "runbook.yaml"
    path.write_text(f"version: 1\n{roles}handoffTypes:\n{types}", encoding="utf-8")
    return path


REFUND = """\
  refund:
    category: business_judgment
    owner: lead
    responses: [approve, reject]
    routes:
      - when: {amount: "> 1000"}
        owner: manager
      - when: {customerTier: vip, region: [EU, UK]}
        owner: vip-desk
      - when: {customer.flags.fraud: true}
        owner: director
"""


@pytest.fixture
def refund(tmp_path: Path) -> Any:
    return load_runbook(runbook_file(tmp_path, REFUND))


@pytest.mark.parametrize(("packet", "owner"), [
    ({}, "lead"),
    ({"amount": 1000}, "lead"),
    ({"amount": 1000.5}, "manager"),
    ({"amount": "1240"}, "manager"),  # a number written as text still compares
    ({"amount": "1,240 EUR"}, "lead"),  # not a number: the rule does not match
    ({"amount": True}, "lead"),
    ({"customerTier": "VIP ", "region": "uk"}, "vip-desk"),  # text ignores case and spaces
    ({"customerTier": "vip"}, "lead"),  # every key of `when` must match
    ({"customerTier": "vip", "region": "US"}, "lead"),
    ({"amount": 5000, "customerTier": "vip", "region": "EU"}, "manager"),  # first match wins
    ({"customer": {"flags": {"fraud": True}}}, "director"),  # dotted path into nested keys
    ({"customer": {"flags": {"fraud": "true"}}}, "lead"),  # a boolean is not the text 'true'
])
def test_field_rules_pick_the_owner(refund: Any, packet: dict[str, Any], owner: str) -> None:
    assert refund.route_for("refund", packet) == owner


def test_unknown_type_routes_to_none(refund: Any) -> None:
    assert refund.route_for("nope", {}) is None


@pytest.mark.parametrize("test", ["> 1000", ">=1000", "< 1000", "<= 1000", "== 1000", "!= 1000"])
def test_comparisons(tmp_path: Path, test: str) -> None:
    types = REFUND.replace('"> 1000"', f'"{test}"')
    runbook = load_runbook(runbook_file(tmp_path, types))
    expected = {">": False, ">=": True, "<": False, "<=": True, "==": True, "!=": False}
    op = test.split(" ")[0].rstrip("0123456789")
    routed = runbook.route_for("refund", {"amount": 1000})
    assert (routed == "manager") is expected[op]


def test_escalation_is_honoured_along_the_chain(refund: Any) -> None:
    assert refund.escalation_chain("lead") == ["manager", "director"]
    assert refund.route_for("refund", {"escalatedTo": "manager"}) == "manager"
    assert refund.route_for("refund", {"escalatedTo": "director"}) == "director"
    # Not above the routed owner: not honoured, so lint and route see the runbook's owner.
    assert refund.route_for("refund", {"escalatedTo": "vip-desk"}) == "lead"
    assert refund.route_for("refund", {"amount": 2000, "escalatedTo": "director"}) == "director"
    routing = refund.routing_for("refund", {"escalatedTo": "manager"})
    assert (routing.base_owner, routing.reason) == ("lead", "escalated from lead")


def test_rule_descriptions(refund: Any) -> None:
    rules = refund.types["refund"].routes
    assert [r.describe() for r in rules] == [
        "amount > 1000", "customerTier is vip and region is one of EU, UK",
        "customer.flags.fraud is true",
    ]


BROKEN = [
    ("unknown owner", REFUND.replace("owner: manager", "owner: boss"), 7,
     "owner 'boss' is not a role in this runbook"),
    ("not a number", REFUND.replace('"> 1000"', '"> lots"'), 6, "'> lots' compares with 'lots'"),
    ("empty when", REFUND.replace('{amount: "> 1000"}', "{}"), 6, "should be non-empty"),
    ("null test", REFUND.replace('"> 1000"', "null"), 6, "write a value, a list of values"),
    ("nested mapping", REFUND.replace('"> 1000"', "{gt: 1}"), 6, "write a value, a list"),
    ("empty list", REFUND.replace("[EU, UK]", "[]"), 8, "a list must hold one or more"),
    ("no owner", REFUND.replace("        owner: manager\n", ""), 6, "'owner' is a required"),
    ("unknown key", REFUND.replace("owner: manager", "owner: manager\n        who: x"), 6,
     "Additional properties are not allowed ('who'"),
]


@pytest.mark.parametrize(("name", "types", "line", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rules_name_file_and_line(tmp_path: Path, name: str, types: str, line: int,
                                         message: str) -> None:
    path = runbook_file(tmp_path, types)
    with pytest.raises(ConfigError) as caught:
        load_runbook(path)
    assert caught.value.path == path
    assert message in caught.value.message
    assert caught.value.line == line + ROLES.count("\n") + 2, str(caught.value)


@pytest.mark.parametrize(("roles", "message"), [
    ("roles:\n  a:\n    escalatesTo: a\n", "escalation loops back: a -> a"),
    ("roles:\n  a:\n    escalatesTo: b\n  b:\n    escalatesTo: a\n", "loops back: a -> b -> a"),
    ("roles:\n  a:\n    escalatesTo: ghost\n", "escalates to unknown role 'ghost'"),
])
def test_broken_escalation(tmp_path: Path, roles: str, message: str) -> None:
    types = "  t:\n    category: evidence_gap\n    owner: a\n    responses: [ok]\n"
    with pytest.raises(ConfigError) as caught:
        load_runbook(runbook_file(tmp_path, types, roles))
    assert message in caught.value.message
    assert caught.value.line == 4


def test_shipped_runbook_keeps_the_reference_role_map() -> None:
    runbook = load_runbook(Path(__file__).parents[1] / "runbooks" / "default.yaml")
    table = {name: (t.category, t.owner, t.responses) for name, t in runbook.types.items()}
    assert table == {
        "customer_exception": ("business_judgment", "customer-success-lead",
                               ("approve refund", "reject", "offer credit", "escalate to manager")),
        "external_sending": ("risk_authorization", "business-owner", ("send", "rewrite", "hold")),
        "compliance_concern": ("risk_authorization", "legal-owner",
                               ("continue", "revise", "seek outside view")),
        "data_conflict": ("evidence_gap", "data-owner",
                          ("choose source", "request missing material")),
    }
    # The example shows a field rule and an escalation.
    assert runbook.route_for("customer_exception", {"amount": 9000}) == "support-manager"
    assert runbook.route_for("customer_exception", {"amount": 90}) == "customer-success-lead"
    assert runbook.escalation_chain("customer-success-lead") == ["support-manager"]
