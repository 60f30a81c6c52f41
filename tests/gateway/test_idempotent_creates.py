"""Creating POSTs with an Idempotency-Key through the gateway: the route runs inside the key's
transaction, also when it checks references with another service on the way (training asks
assessment whether the factory exists), and a retry replays the first answer."""

from __future__ import annotations

import httpx

from tests.assessment.builders import new_factory
from tests.training.builders import STAFF


async def test_a_cross_service_create_with_a_key_runs_once_and_replays(
    gateway_client: httpx.AsyncClient,
) -> None:
    factory = await new_factory(gateway_client, headers={**STAFF, "idempotency-key": "fac-1"})
    again = await new_factory(gateway_client, headers={**STAFF, "idempotency-key": "fac-1"})
    assert again["id"] == factory["id"]

    visit = {
        "factory_id": factory["id"],
        "visit_date": "2024-06-20",
        "advisors": ["Aziza Yusupova"],
        "compliance_point_codes": ["CO-1"],
    }
    keyed = {**STAFF, "idempotency-key": "visit-1"}
    first = await gateway_client.post("/v1/advisory-visits", json=visit, headers=keyed)
    second = await gateway_client.post("/v1/advisory-visits", json=visit, headers=keyed)
    assert first.status_code == second.status_code == 201, first.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    listed = await gateway_client.get("/v1/advisory-visits", headers=STAFF)
    assert [v["id"] for v in listed.json()["items"]] == [first.json()["id"]]
    factories = await gateway_client.get("/v1/factories", headers=STAFF)
    assert [f["id"] for f in factories.json()["items"]] == [factory["id"]]
