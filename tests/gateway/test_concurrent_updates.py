"""Of 50 concurrent updates of a real resource from the same version, through the gateway,
exactly one wins and the rest get 412; the winner's change is the one stored."""

import asyncio

import httpx

from tests.support import auth_header

ADMIN = auth_header("admin")


async def test_fifty_concurrent_factory_updates_one_wins(gateway_client: httpx.AsyncClient) -> None:
    created = await gateway_client.post(
        "/v1/factories", json={"name": "Buxoro Tekstil", "country": "UZ"}, headers=ADMIN
    )
    factory_id, etag = created.json()["id"], created.headers["etag"]
    responses = await asyncio.gather(
        *(
            gateway_client.patch(
                f"/v1/factories/{factory_id}",
                json={"region": f"Region {n}"},
                headers={**ADMIN, "if-match": etag},
            )
            for n in range(50)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == 49
    winner = next(r for r in responses if r.status_code == 200).json()
    stored = (await gateway_client.get(f"/v1/factories/{factory_id}", headers=ADMIN)).json()
    assert stored["region"] == winner["region"] and stored["version"] == 2
