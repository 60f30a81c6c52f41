"""Of many concurrent updates of a real resource from the same version, through the gateway,
exactly one wins and the rest get 412; the winner's change is the one stored."""

import asyncio

import httpx

from tests.assessment.builders import (
    ADMIN,
    FINDING_CODES,
    all_findings,
    created,
    feed,
    move,
    new_assessment,
    new_factory,
    published_catalog,
)


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


async def test_thirty_concurrent_bulk_findings_submissions_from_one_etag_one_wins(
    gateway_client: httpx.AsyncClient, assessment_client: httpx.AsyncClient
) -> None:
    catalog = await published_catalog(gateway_client)
    factory = await new_factory(gateway_client)
    assessment = await created(await new_assessment(gateway_client, factory["id"], catalog["id"]))
    started = await move(gateway_client, assessment["id"], "in_progress")
    etag, version = started.headers["etag"], started.json()["version"]
    events_before = len(await feed(assessment_client))
    submissions = [all_findings({FINDING_CODES[n % len(FINDING_CODES)]}) for n in range(30)]
    for n, findings in enumerate(submissions):
        findings[0]["notes"] = f"submission {n}"
    responses = await asyncio.gather(
        *(
            gateway_client.put(
                f"/v1/assessments/{assessment['id']}/findings",
                json={"findings": findings},
                headers={**ADMIN, "if-match": etag},
            )
            for findings in submissions
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == 29, statuses
    winner = statuses.index(200)
    stored = await gateway_client.get(f"/v1/assessments/{assessment['id']}/findings", headers=ADMIN)
    by_code = {f["question_code"]: f for f in stored.json()["items"]}
    assert by_code[FINDING_CODES[0]]["notes"] == f"submission {winner}"
    assert {c for c, f in by_code.items() if f["non_compliant"]} == {
        FINDING_CODES[winner % len(FINDING_CODES)]
    }
    read = await gateway_client.get(f"/v1/assessments/{assessment['id']}", headers=ADMIN)
    assert read.json()["version"] == version + 1
    assert read.headers["etag"] == responses[winner].headers["etag"]
    new_events = (await feed(assessment_client))[events_before:]
    assert [(e["event_type"], e["payload"]["version"]) for e in new_events] == [
        ("assessment.updated", version + 1)
    ]
