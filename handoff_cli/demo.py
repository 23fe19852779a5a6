"""The demo workspace: the refund example from the spec, one more packet per type, evidence
files a reviewer can open, and one unplanned failure in the exception queue."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import PacketInput, create_packet, find_packet_file, init_workspace
from .workspace import Workspace, open_workspace

REFUND_RUN_ID = "refund-review-2026-05-24-1500"
DEMO_AGENT = "refund-agent@agents.example.com"

SEED: dict[str, Any] = {
    "handoffType": "customer_exception",
    "runId": REFUND_RUN_ID,
    "agentGoal": "Prepare refund decision material for high-value requests",
    "triggerReason": "Refund amount exceeds standard policy and customer has two prior complaints",
    "evidence": {
        "orderFile": "workspace/refunds/2026-05-24/orders.xlsx",
        "conversationSummary": "workspace/refunds/2026-05-24/customer-8241.md",
        "policyExcerpt": "workspace/refunds/2026-05-24/refund-policy.md",
    },
    "options": [
        {"label": "approve refund", "risk": "sets exception precedent"},
        {"label": "offer credit", "risk": "may not satisfy customer"},
        {"label": "escalate to manager", "risk": "slower response"},
    ],
    "ownerRole": "customer-success-lead",
    "agentNextActionAfterDecision": "draft reply and keep Trust Mode on Confirm before sending",
}

EVIDENCE_TEXT = {
    "workspace/refunds/2026-05-24/customer-8241.md": """\
# Customer 8241: conversation summary

- 2026-05-20: order #55120 (espresso machine, 1,240.00 EUR) arrived with a cracked tank.
- 2026-05-21: customer asked for a full refund; agent offered a replacement part.
- 2026-05-23: second complaint; customer says the replacement was never shipped.
- Customer has two prior complaints this year (late delivery, wrong colour).
""",
    "workspace/refunds/2026-05-24/refund-policy.md": """\
# Refund policy (excerpt)

Standard refunds are approved by the agent up to 500.00 EUR within 30 days of delivery.
Above that amount, or for a customer with prior complaints, a customer-success lead decides.
""",
    "workspace/vip/2026-05-25/delivery-log.md": "# Delivery log\n\nOrder #55871: promised 05-22, "
    "carrier shows no scan since 05-21.\n",
    "workspace/vip/2026-05-25/account.md": "# Account\n\nTier: VIP since 2023. Lifetime value "
    "48,300 EUR.\n",
    "workspace/vip/2026-05-25/policy.md": "# Delivery policy\n\nLate delivery: apology and "
    "free shipping on the next order. Refunds for lateness need approval.\n",
    "workspace/outbound/2026-05-25/draft.md": "Subject: Revised quote for Q3\n\nDear Ms Berg,\n\n"
    "Attached is the revised quote with the 12% volume discount we discussed...\n",
    "workspace/outbound/2026-05-25/recipients.md": "- anna.berg@customer.example.org (To)\n"
    "- procurement@customer.example.org (Cc)\n",
    "workspace/contracts/acme-msa/clauses.md": "# Extracted clauses\n\n"
    "14.2 **Unlimited liability** for data loss caused by the supplier.\n"
    "18.1 Auto-renewal for 36 months unless cancelled 180 days before term end.\n",
    "workspace/data/2026-05-25/differences.md": "# Price list differences\n\n"
    "| SKU | prices-v3.csv | prices-final.csv |\n|---|---|---|\n| EM-200 | 1,240.00 | 1,190.00 |\n"
    "| EM-210 | 1,480.00 | (missing) |\n",
}

EXCEPTION_PACKET = """\
---
# An unplanned failure: it does not wait for a decision, it waits for a fix.
handoffType: data_conflict
runId: price-sync-2026-05-25-0900
agentGoal: Sync the price list to the web shop
triggerReason: "File read failed: workspace/data/2026-05-25/prices-final.csv (permission denied)"
evidence:
  differences: workspace/data/2026-05-25/differences.md
ownerRole: data-owner
status: open
createdAt: "2026-05-25T09:00:00Z"
history:
  - event: created
    at: "2026-05-25T09:00:00Z"
    by: price-agent@agents.example.com
---
The agent could not read the final price list. This is a failure to fix, not a decision.
"""


@dataclass(frozen=True)
class DemoResult:
    """What the demo made."""

    workspace: Workspace
    packets: tuple[Path, ...]
    exceptions: tuple[Path, ...]
    refund_run_id: str = REFUND_RUN_ID


def orders_xlsx() -> bytes:
    """A small real spreadsheet (the refund's order file) using only the standard library."""
    rows = [("order", "customer", "item", "amount_eur", "delivered"),
            ("55120", "8241", "espresso machine EM-200", "1240.00", "2026-05-19")]

    def cell(ref: str, value: str) -> str:
        if value.replace(".", "", 1).isdigit() and "-" not in value:
            return f'<c r="{ref}"><v>{value}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    sheet_rows = "".join(
        f'<row r="{r + 1}">' + "".join(cell(f"{'ABCDE'[c]}{r + 1}", v) for c, v in enumerate(row))
        + "</row>" for r, row in enumerate(rows))
    ns = "http://schemas.openxmlformats.org"
    files = {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="orders" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{sheet_rows}</sheetData></worksheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def demo_packets() -> list[tuple[str, PacketInput, str]]:
    """(type, input, format) for every demo packet; the refund seed first."""
    def given(run_id: str, goal: str, trigger: str, evidence: dict[str, str],
              options: list[tuple[str, str]], next_action: str) -> PacketInput:
        return PacketInput(values={"runId": run_id, "agentGoal": goal, "triggerReason": trigger,
                                   "agentNextActionAfterDecision": next_action},
                           evidence=evidence,
                           options=[{"label": label, "risk": risk} for label, risk in options])

    return [
        ("customer_exception", PacketInput(from_json=SEED), "json"),
        ("customer_exception", given(
            "vip-delay-2026-05-25-1010", "Answer VIP delivery complaints within one hour",
            "VIP customer asks for a full refund because delivery is three days late",
            {"orderFile": "workspace/vip/2026-05-25/delivery-log.md",
             "conversationSummary": "workspace/vip/2026-05-25/account.md",
             "policyExcerpt": "workspace/vip/2026-05-25/policy.md"},
            [("offer credit", "customer may still churn"),
             ("approve refund", "refund for lateness is outside policy"),
             ("reject", "VIP relationship at risk")],
            "send the chosen reply and open a carrier claim"), "md"),
        ("external_sending", given(
            "quote-email-2026-05-25-1130", "Send revised Q3 quotes to enterprise customers",
            "Email offers a 12% discount and goes to an external procurement address",
            {"draftEmail": "workspace/outbound/2026-05-25/draft.md",
             "recipients": "workspace/outbound/2026-05-25/recipients.md"},
            [("send", "commits the company to a 12% discount"),
             ("rewrite", "quote arrives after the customer's Friday deadline"),
             ("hold", "customer may sign with a competitor")],
            "send or revise the email exactly as decided and log it in the CRM"), "md"),
        ("compliance_concern", given(
            "acme-msa-2026-05-25-1400", "Summarize the ACME master services agreement for signing",
            "Clause 14.2 accepts unlimited liability for data loss",
            {"extractedClauses": "workspace/contracts/acme-msa/clauses.md"},
            [("continue", "unlimited liability exposure"),
             ("revise", "negotiation delays signing by a week"),
             ("seek outside view", "outside counsel cost and delay")],
            "prepare the redline or the signing packet as decided"), "md"),
        ("data_conflict", given(
            "price-list-2026-05-25-1600", "Publish the June price list",
            "Two price files disagree on 2 SKUs and one SKU is missing from the final file",
            {"differences": "workspace/data/2026-05-25/differences.md"},
            [("choose source", "wrong prices go live if the wrong file is chosen"),
             ("request missing material", "June prices publish late")],
            "publish prices from the chosen source or wait for the missing file"), "md"),
    ]


def build_demo(directory: Path) -> DemoResult:
    """Create (or complete) the demo workspace in `directory`."""
    from .store import create_inside

    init_workspace(directory)
    real_root = os.path.realpath(directory)
    for relative, text in EVIDENCE_TEXT.items():
        create_inside(real_root, directory / relative, text.encode("utf-8"), relative)
    orders = "workspace/refunds/2026-05-24/orders.xlsx"
    create_inside(real_root, directory / orders, orders_xlsx(), orders)
    workspace = open_workspace(directory)
    packets = []
    for type_name, given, fmt in demo_packets():
        run_id = str((given.from_json or given.values)["runId"])
        existing = find_packet_file(workspace, run_id)
        if existing is None:
            existing = create_packet(workspace, type_name, given, identity=DEMO_AGENT,
                                     fmt=fmt).path
        packets.append(existing)
    failure = workspace.exceptions_dir / "price-sync-2026-05-25-0900.md"
    create_inside(real_root, failure, EXCEPTION_PACKET.encode("utf-8"),
                  workspace.relative(failure))
    return DemoResult(workspace=workspace, packets=tuple(packets), exceptions=(failure,))
