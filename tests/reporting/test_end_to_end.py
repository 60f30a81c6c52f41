"""The real assessment service, driven through its API, feeds reporting through its real change
feed; reporting's figures are the methodology's on what was recorded."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from tests.assessment.builders import (
    ADMIN,
    all_findings,
    created,
    new_factory,
    published_assessment,
    published_catalog,
    submit_findings,
    walk,
)
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")


async def sync_from(reporting_app: FastAPI, assessment_app: FastAPI) -> int:
    [reader] = make_readers(
        reporting_app.state.db,
        ReportingSettings(sync_page_size=3),
        TEST_AUTH,
        {"assessment": httpx.ASGITransport(app=assessment_app)},
        sources=["assessment"],
    )
    async with reader.client:
        return await reader.catch_up()


async def test_reporting_follows_the_real_assessment_feed(
    assessment_app: FastAPI,
    assessment_client: httpx.AsyncClient,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    catalog = await published_catalog(assessment_client)
    bad_sets = [{"CL-1-1"}, {"CO-1-1", "CO-1-2"}, set(), {"CO-2-1"}, {"CL-1-2", "CO-2-1"}]
    published = []
    for n, bad in enumerate(bad_sets):
        factory = await new_factory(
            assessment_client,
            name=f"Ipak Yo'li Tekstil {n}",
            workforce={"total": 300 + n, "women": 200, "men": 100 + n},
        )
        published.append(
            await published_assessment(assessment_client, factory["id"], catalog["id"], bad)
        )

    assert await sync_from(reporting_app, assessment_app) > len(bad_sets)
    cps = (
        await reporting_client.get("/v1/reports/non-compliance/compliance-points", headers=STAFF)
    ).json()
    got = {
        i["compliance_point_code"]: (i["factories_assessed"], i["factories_non_compliant"])
        for i in cps["items"]
    }
    assert got == {"CL-1": (5, 2), "CO-1": (5, 1), "CO-2": (5, 2)}
    questions = (
        await reporting_client.get("/v1/reports/non-compliance/questions", headers=STAFF)
    ).json()
    assert "CO-2-9" not in {q["question_code"] for q in questions["items"]}

    # Correct the first assessment: its CL-1-1 finding is withdrawn in a new revision.
    revision = await created(
        await assessment_client.post(
            f"/v1/assessments/{published[0]['id']}/revisions",
            json={"reason": "finding withdrawn after review"},
            headers=ADMIN,
        )
    )
    await sync_from(reporting_app, assessment_app)
    still = (
        await reporting_client.get("/v1/reports/non-compliance/compliance-points", headers=STAFF)
    ).json()
    assert {i["compliance_point_code"]: i["factories_non_compliant"] for i in still["items"]}[
        "CL-1"
    ] == 2, "an unpublished revision must not replace the published one"

    assert revision["status"] == "draft"
    fixed = await submit_findings(assessment_client, revision["id"], all_findings(set()))
    assert fixed.status_code == 200, fixed.text
    await walk(assessment_client, revision["id"], "published")
    await sync_from(reporting_app, assessment_app)
    after = (
        await reporting_client.get("/v1/reports/non-compliance/compliance-points", headers=STAFF)
    ).json()
    assert {i["compliance_point_code"]: i["factories_non_compliant"] for i in after["items"]} == {
        "CL-1": 1,
        "CO-1": 1,
        "CO-2": 2,
    }
    assert after["summary"]["factories_assessed"] == 5

    html = (
        await reporting_client.get(
            "/v1/reports/annual/2024", params={"country": "UZ", "format": "html"}, headers=STAFF
        )
    ).text
    assert "Child Labour" in html and "<svg" in html
    assert "Ipak Yo" not in html, "a factory is named in the report"
