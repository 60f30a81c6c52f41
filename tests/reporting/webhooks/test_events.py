"""Which public event a source event stands for, fed through the real sync."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.reporting.feedgen import FeedLog
from tests.reporting.webhooks.support import RECEIVER, Receiver, add_factory, deliverer, sync
from tests.reporting.webhooks.support import feed_from_now as fresh
from tests.support import auth_header

ADMIN = auth_header("admin")


def assessment(ident: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "factory_id": "fac_1", "status": "published", "findings": []} | fields


def plan(*statuses: str) -> dict[str, Any]:
    items = [{"id": f"itm_{n}", "status": s} for n, s in enumerate(statuses)]
    return {"id": "pln_1", "factory_id": "fac_1", "assessment_id": "asm_1", "items": items}


async def received_types(
    app: FastAPI, client: httpx.AsyncClient, assessment_log: FeedLog, training: FeedLog
) -> list[tuple[str, Any]]:
    app.state.settings.webhook_allow_private_urls = True
    body = {"url": RECEIVER, "event_types": ["assessment.published", "assessment.revised"]}
    body["event_types"] += ["findings.replaced", "improvement_plan_item.status_changed"]
    assert (await client.post("/v1/webhooks", json=body, headers=ADMIN)).status_code == 201
    add_factory(assessment_log, "fac_1")
    assessment_log.add("assessment.created", assessment("asm_1", status="draft"))
    assessment_log.add("assessment.updated", assessment("asm_1", findings_count=4))
    assessment_log.add("assessment.published", assessment("asm_1"))
    assessment_log.add("assessment.published", assessment("asm_2", supersedes_id="asm_1"))
    training.add("improvement_plan.created", plan("open", "open"))
    training.add("improvement_plan.updated", plan("open", "done"))
    training.add("improvement_plan.updated", plan("open", "done"))  # no status moved
    await sync(app, assessment_log, training)
    receiver = Receiver()
    sender = deliverer(app, receiver)
    while await sender.run_once():
        pass
    out = []
    for body in receiver.bodies():
        data = body["data"]
        detail = [(i["id"], i["previous_status"], i["status"]) for i in data.get("items", [])]
        out.append((body["type"], detail or data["id"]))
    return out


async def test_each_source_event_maps_to_its_public_type(
    reporting_app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    got = await received_types(reporting_app, gateway_client, fresh(), fresh())
    assert got == [
        ("findings.replaced", "asm_1"),
        ("assessment.published", "asm_1"),
        ("assessment.revised", "asm_2"),
        (
            "improvement_plan_item.status_changed",
            [("itm_0", None, "open"), ("itm_1", None, "open")],
        ),
        ("improvement_plan_item.status_changed", [("itm_1", "open", "done")]),
    ]
