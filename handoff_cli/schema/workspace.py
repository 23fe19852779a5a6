"""The packet schema specialised to one workspace: its handoff types, owner roles, and each
type's required evidence and allowed option labels as enums, for editors to complete and check.
"""

from __future__ import annotations

import copy
from typing import Any

from . import load_schema


def workspace_packet_schema(runbook: Any) -> dict[str, Any]:
    """The shipped packet schema plus this runbook's types, roles, evidence and responses."""
    schema = copy.deepcopy(load_schema("packet"))
    schema.pop("$id", None)  # not the published schema any more
    schema["title"] = "handoff decision packet (this workspace)"
    properties = schema.setdefault("properties", {})
    types = sorted(runbook.types)
    roles = sorted(runbook.roles)
    if types:
        properties["handoffType"] = {**properties.get("handoffType", {}), "enum": types}
    if roles:
        properties["ownerRole"] = {**properties.get("ownerRole", {}), "enum": roles}
    rules = []
    for name in types:
        spec = runbook.types[name]
        then: dict[str, Any] = {"properties": {}}
        if spec.required_evidence:
            then["properties"]["evidence"] = {
                "required": list(spec.required_evidence),
                "properties": {key: {"description": f"Required evidence for {name}."}
                               for key in spec.required_evidence},
            }
        if spec.responses:
            then["properties"]["options"] = {"items": {"properties": {
                "label": {"enum": list(spec.responses)}}}}
        if then["properties"]:
            rules.append({
                "if": {"properties": {"handoffType": {"const": name}},
                       "required": ["handoffType"]},
                "then": then,
            })
    if rules:
        schema["allOf"] = [*schema.get("allOf", []), *rules]
    return schema
