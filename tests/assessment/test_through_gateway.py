"""The issue's "done when", through the gateway: register a factory, run an assessment through
its lifecycle with 250 findings, read the results, see every change in the feed; bad input gets
problem+json and changes nothing."""

import httpx

from services.assessment import demo_data
from tests.assessment.builders import ADMIN, assert_problem, feed


async def test_whole_lifecycle_with_250_findings(
    gateway_client: httpx.AsyncClient, assessment_client: httpx.AsyncClient
) -> None:
    client = gateway_client
    imported = await client.post("/v1/catalogs", json=demo_data.extended_cat(250), headers=ADMIN)
    assert imported.status_code == 201, imported.text
    catalog = imported.json()
    published = await client.post(
        f"/v1/catalogs/{catalog['id']}/publish",
        headers={**ADMIN, "if-match": imported.headers["etag"]},
    )
    assert published.status_code == 200, published.text
    factory = await client.post(
        "/v1/factories",
        json={"name": "Qo'qon Yigiruv", "name_ru": "Кокандская прядильная", "country": "UZ"},
        headers=ADMIN,
    )
    assert factory.status_code == 201, factory.text
    created = await client.post(
        "/v1/assessments",
        json={
            "factory_id": factory.json()["id"],
            "catalog_id": catalog["id"],
            "visit_start": "2024-10-15",
            "visit_end": "2024-10-16",
        },
        headers={**ADMIN, "idempotency-key": "assessment-1"},
    )
    assert created.status_code == 201, created.text
    assessment_id, etag = created.json()["id"], created.headers["etag"]

    async def move(to: str) -> None:
        nonlocal etag
        response = await client.post(
            f"/v1/assessments/{assessment_id}/transitions",
            json={"to": to},
            headers={**ADMIN, "if-match": etag},
        )
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]

    await move("in_progress")
    questions = [
        q for c in catalog["clusters"] for p in c["compliance_points"] for q in p["questions"]
    ]
    findings = [
        {"question_code": q["code"], "value": 3}
        if q["kind"] == "information"
        else {"question_code": q["code"], "non_compliant": q["code"].startswith("OS-1")}
        for q in questions
    ]
    assert len(findings) == 250
    url = f"/v1/assessments/{assessment_id}/findings"
    bad = await client.put(
        url,
        json={"findings": [*findings[:-1], {"question_code": "ZZ-1", "non_compliant": True}]},
        headers={**ADMIN, "if-match": etag},
    )
    assert assert_problem(bad, 422)["invalid_question_codes"] == ["ZZ-1"]
    malformed = await client.put(
        url,
        content=b'{"findings": [',
        headers={**ADMIN, "content-type": "application/json", "if-match": etag},
    )
    assert_problem(malformed, 400)
    wrong_state = await client.post(
        f"/v1/assessments/{assessment_id}/transitions",
        json={"to": "published"},
        headers={**ADMIN, "if-match": etag},
    )
    assert_problem(wrong_state, 409)
    stored = await client.put(url, json={"findings": findings}, headers={**ADMIN, "if-match": etag})
    assert stored.json()["findings_stored"] == 250
    etag = stored.headers["etag"]  # the findings changed the assessment: its new version
    await move("draft")
    await move("factory_review")
    await move("published")

    results = (await client.get(f"/v1/assessments/{assessment_id}/results", headers=ADMIN)).json()
    assert results["compliance_points_assessed"] == 37
    assert results["compliance_points_non_compliant"] == 1
    os_cluster = next(c for c in results["clusters"] if c["code"] == "OS")
    assert os_cluster["non_compliant"] is True

    # The feed is internal (not routed by the gateway); reporting reads it from the service.
    assert (await client.get("/internal/v1/changes", headers=ADMIN)).status_code == 404
    events = [
        (e["event_type"], e["aggregate_id"])
        for e in await feed(assessment_client)
        if e["aggregate_id"] == assessment_id
    ]
    assert events == [
        ("assessment.created", assessment_id),
        ("assessment.status_changed", assessment_id),
        ("assessment.updated", assessment_id),
        ("assessment.status_changed", assessment_id),
        ("assessment.status_changed", assessment_id),
        ("assessment.published", assessment_id),
    ]
    all_types = [e["event_type"] for e in await feed(assessment_client)]
    assert all_types[:3] == ["catalog.created", "catalog.published", "factory.created"]
