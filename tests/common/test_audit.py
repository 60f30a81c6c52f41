"""The audit log: every write, who made it, from which request; readable by admin only."""

import httpx

from tests.assessment.builders import new_brand
from tests.support import auth_header


async def test_each_write_is_logged_with_actor_and_request_id(
    gateway_client: httpx.AsyncClient,
) -> None:
    advisor = auth_header("staff", subject="advisor-7")
    created = await gateway_client.post(
        "/v1/brands",
        json={"name": "Nordic Apparel", "type": "participant"},
        headers={**advisor, "x-request-id": "req-create-1"},
    )
    assert created.status_code == 201, created.text
    brand = created.json()
    renamed = await gateway_client.patch(
        f"/v1/brands/{brand['id']}",
        json={"name": "Nordic Apparel AB"},
        headers={
            **auth_header("admin", subject="pm-1"),
            "if-match": created.headers["etag"],
            "x-request-id": "req-rename-2",
        },
    )
    assert renamed.status_code == 200, renamed.text

    log = await gateway_client.get(
        f"/v1/audit/assessment/events?aggregate_id={brand['id']}", headers=auth_header("admin")
    )
    assert log.status_code == 200
    entries = log.json()["items"]
    assert [(e["actor_subject"], e["actor_role"], e["request_id"]) for e in entries] == [
        ("advisor-7", "staff", "req-create-1"),
        ("pm-1", "admin", "req-rename-2"),
    ]
    assert entries[-1]["state"]["name"] == "Nordic Apparel AB"

    by_actor = await gateway_client.get(
        "/v1/audit/assessment/events?actor=advisor-7", headers=auth_header("admin")
    )
    assert [e["event_type"] for e in by_actor.json()["items"]] == ["brand.created"]


async def test_only_admin_reads_the_audit_log(
    gateway_client: httpx.AsyncClient, assessment_client: httpx.AsyncClient
) -> None:
    await new_brand(assessment_client)
    for role, claims in [
        ("staff", {}),
        ("constituent", {}),
        ("service", {}),
        ("brand", {"brand_id": "brd_x"}),
        ("factory", {"factory_id": "fac_x"}),
    ]:
        for service in ("assessment", "training", "reporting"):
            response = await gateway_client.get(
                f"/v1/audit/{service}/events", headers=auth_header(role, **claims)
            )
            assert response.status_code == 403, (role, service)
    assert (await gateway_client.get("/v1/audit/training/events")).status_code == 401
