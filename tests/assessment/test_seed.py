"""`bw seed demo` loads once through the service functions; `bw seed synthetic` scales the same
generator with batch inserts."""

import random
from collections import Counter

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.assessment import demo_data
from services.assessment.models import Assessment, Finding, OutboxEvent
from services.assessment.seeding import seed_demo, seed_synthetic
from services.common.db import Database
from tests.assessment.builders import ADMIN, feed


async def test_demo_loads_once_with_published_assessments(
    assessment_app: FastAPI, assessment_database: Database, assessment_client: httpx.AsyncClient
) -> None:
    first = await seed_demo(assessment_database)
    assert first.created is True
    assert len(first.factories) == 9 and len(first.assessments) == 9
    events_after_first = len(await feed(assessment_client))

    again = await seed_demo(assessment_database)
    assert again.created is False
    assert len(await feed(assessment_client)) == events_after_first
    assert sorted(f["id"] for f in again.factories) == sorted(f["id"] for f in first.factories)
    assert sorted(a["id"] for a in again.assessments) == sorted(a["id"] for a in first.assessments)

    visits = sorted(a["visit_start"] for a in first.assessments)
    assert visits[0] >= "2024-04-01" and visits[-1] <= "2024-10-31"
    assert {f["region"] for f in first.factories} >= {"Tashkent", "Fergana", "Namangan"}
    assert all(f["workforce_women"] > f["workforce_men"] for f in first.factories)
    listed = await assessment_client.get(
        "/v1/assessments", params={"status": "published"}, headers=ADMIN
    )
    assert len(listed.json()["items"]) == 9


async def test_demo_findings_follow_the_realistic_pattern(
    assessment_app: FastAPI, assessment_database: Database
) -> None:
    result = await seed_demo(assessment_database)
    rates: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for assessment in result.assessments:
        assert len(assessment["findings"]) == 109
        for finding in assessment["findings"]:
            totals[finding["cluster_code"]] += 1
            rates[finding["cluster_code"]] += bool(finding["non_compliant"])
    share = {code: rates[code] / totals[code] for code in totals}
    assert share["OS"] > 0.15 and share["WT"] > 0.15
    assert share["CL"] < 0.02
    assert share["OS"] > share["CO"] > share["CL"]


def test_generator_is_deterministic_and_improves_with_cycles() -> None:
    questions = [(f"OS-1-{i}", "finding", "OS-1", "OS") for i in range(2000)]
    questions.append(("OS-1-info", "information", "OS-1", "OS"))
    first = demo_data.generate_findings(random.Random(5), questions)
    again = demo_data.generate_findings(random.Random(5), questions)
    other = demo_data.generate_findings(random.Random(6), questions)
    assert first == again and first != other
    assert first[-1]["non_compliant"] is None and isinstance(first[-1]["value"], int)
    third_cycle = demo_data.generate_findings(random.Random(5), questions, cycle=3)
    assert sum(bool(f["non_compliant"]) for f in third_cycle) < sum(
        bool(f["non_compliant"]) for f in first
    )


def test_extended_cat_reaches_250_questions_and_maps_the_draft() -> None:
    doc = demo_data.extended_cat(250, previous_codes={"CL-1-1"})
    questions = [q for c in doc["clusters"] for p in c["compliance_points"] for q in p["questions"]]
    assert len(questions) == 250 and len({q["code"] for q in questions}) == 250
    assert any(q.get("kind") == "information" for q in questions)
    assert next(q for q in questions if q["code"] == "CL-1-1")["previous_code"] == "CL-1-1"
    assert demo_data.extended_cat(250) == demo_data.extended_cat(250)


async def test_synthetic_uses_a_250_question_cat_and_writes_events(
    assessment_app: FastAPI, assessment_database: Database, assessment_client: httpx.AsyncClient
) -> None:
    result = await seed_synthetic(assessment_database, factories=7, cycles=2, batch_size=3)
    assert (result.factories, result.assessments) == (7, 14)
    assert result.findings == 14 * 250
    async with assessment_database.sessionmaker() as session:
        stored = (await session.execute(select(func.count()).select_from(Finding))).scalar_one()
        cycles = (await session.execute(select(func.max(Assessment.cycle)))).scalar_one()
        published = (
            await session.execute(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.event_type == "assessment.published")
            )
        ).scalar_one()
    assert (stored, cycles, published) == (14 * 250, 2, 14)
    catalog = (
        await assessment_client.get(f"/v1/catalogs/{result.catalog_id}", headers=ADMIN)
    ).json()
    assert catalog["question_count"] == 250 and catalog["status"] == "published"
    events = await feed(assessment_client)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    one = next(e for e in events if e["event_type"] == "assessment.published")
    assert len(one["payload"]["findings"]) == 250 and one["payload"]["country"] == "UZ"
    results = await assessment_client.get(
        f"/v1/assessments/{one['aggregate_id']}/results", headers=ADMIN
    )
    assert results.status_code == 200 and results.json()["compliance_points_assessed"] == 37
