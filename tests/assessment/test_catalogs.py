"""The CAT: import (the draft file's own format), publish, immutability, version mapping,
dated thresholds."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

from services.assessment.catalogs.schemas import ThresholdIn
from services.assessment.catalogs.service import threshold_in_force
from tests.assessment.builders import (
    ADMIN,
    assert_problem,
    catalog_doc,
    created,
    feed,
    published_catalog,
)
from tests.support import auth_header

DRAFT_CAT = Path("/work/shared/domain/cat-uz-draft.json")
REPO_DRAFT_CAT = Path(__file__).resolve().parents[2] / "services/assessment/data/cat-uz-draft.json"


def draft_cat() -> dict:  # type: ignore[type-arg]
    path = REPO_DRAFT_CAT if REPO_DRAFT_CAT.exists() else DRAFT_CAT
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


async def test_the_draft_cat_file_imports_as_is(assessment_client: httpx.AsyncClient) -> None:
    doc = {**draft_cat(), "country": "UZ"}
    catalog = await created(await assessment_client.post("/v1/catalogs", json=doc, headers=ADMIN))
    assert catalog["status"] == "draft" and catalog["version"] == 1
    assert catalog["question_count"] == 109
    assert len(catalog["clusters"]) == 8
    assert sum(len(c["compliance_points"]) for c in catalog["clusters"]) == 37
    assert catalog["title"] == doc["meta"]["title"]
    first = catalog["clusters"][0]["compliance_points"][0]["questions"][0]
    assert first["code"] == "CL-1-1" and first["kind"] == "finding"
    assert first["provenance"] == "found" and "C138" in first["legal_basis"]


async def test_texts_in_three_languages_round_trip(assessment_client: httpx.AsyncClient) -> None:
    catalog = await created(
        await assessment_client.post("/v1/catalogs", json=catalog_doc(), headers=ADMIN)
    )
    read = (await assessment_client.get(f"/v1/catalogs/{catalog['id']}", headers=ADMIN)).json()
    questions = {
        q["code"]: q
        for c in read["clusters"]
        for p in c["compliance_points"]
        for q in p["questions"]
    }
    assert questions["CL-1-2"]["text"]["ru"] == "Работают ли дети на дому?"
    assert questions["CO-1-1"]["text"]["uz"] == "Ishchilarga eng kam ish haqidan kam to'lanadimi?"
    assert questions["CO-2-9"]["kind"] == "information"


async def test_bad_import_names_every_problem_and_stores_nothing(
    assessment_client: httpx.AsyncClient,
) -> None:
    doc = catalog_doc()
    doc["clusters"][1]["compliance_points"][0]["questions"][1]["code"] = "CL-1-1"
    doc["clusters"][0]["compliance_points"][0]["questions"][0]["previous_code"] = "OLD-1"
    doc["thresholds"] = [
        {"name": "x", "value": "1", "valid_from": "2024-01-01", "question_code": "NOPE"}
    ]
    body = assert_problem(
        await assessment_client.post("/v1/catalogs", json=doc, headers=ADMIN), 422
    )
    types = sorted(e["type"] for e in body["errors"])
    assert types == ["duplicate_code", "missing", "unknown_question"]
    assert (await assessment_client.get("/v1/catalogs", headers=ADMIN)).json()["items"] == []


async def test_published_catalog_is_immutable(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    url = f"/v1/catalogs/{catalog['id']}"
    etag = (await assessment_client.get(url, headers=ADMIN)).headers["etag"]
    changed = catalog_doc(title="Changed")
    assert_problem(
        await assessment_client.put(url, json=changed, headers={**ADMIN, "if-match": etag}), 409
    )
    assert_problem(
        await assessment_client.post(f"{url}/publish", headers={**ADMIN, "if-match": etag}), 409
    )
    after = (await assessment_client.get(url, headers=ADMIN)).json()
    assert after["title"] == "Test CAT" and after["published_at"] == catalog["published_at"]


async def test_draft_can_be_replaced_with_if_match(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post("/v1/catalogs", json=catalog_doc(), headers=ADMIN)
    url = f"/v1/catalogs/{response.json()['id']}"
    smaller = catalog_doc()
    del smaller["clusters"][1]
    assert_problem(await assessment_client.put(url, json=smaller, headers=ADMIN), 428)
    replaced = await assessment_client.put(
        url, json=smaller, headers={**ADMIN, "if-match": response.headers["etag"]}
    )
    assert replaced.status_code == 200 and replaced.json()["question_count"] == 2
    assert replaced.headers["etag"] != response.headers["etag"]
    event_types = [e["event_type"] for e in await feed(assessment_client)]
    assert event_types == ["catalog.created", "catalog.updated"]


async def test_new_version_maps_to_previous_and_numbers_increase(
    assessment_client: httpx.AsyncClient,
) -> None:
    first = await published_catalog(assessment_client)
    doc = catalog_doc(previous_catalog_id=first["id"])
    question = doc["clusters"][0]["compliance_points"][0]["questions"][0]
    question.update(code="CL-1-1a", previous_code="CL-1-1")
    second = await created(await assessment_client.post("/v1/catalogs", json=doc, headers=ADMIN))
    assert second["version"] == 2 and second["previous_catalog_id"] == first["id"]
    [event] = [e for e in await feed(assessment_client) if e["aggregate_id"] == second["id"]]
    mapped = event["payload"]["clusters"][0]["compliance_points"][0]["questions"][0]
    assert {k: mapped[k] for k in ("code", "kind", "previous_code")} == {
        "code": "CL-1-1a",
        "kind": "finding",
        "previous_code": "CL-1-1",
    }

    bad = catalog_doc(previous_catalog_id=first["id"])
    bad["clusters"][0]["compliance_points"][0]["questions"][0]["previous_code"] = "GONE-1"
    body = assert_problem(
        await assessment_client.post("/v1/catalogs", json=bad, headers=ADMIN), 422
    )
    assert "GONE-1" in body["errors"][0]["message"]


async def test_publish_emits_the_catalog_snapshot(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    events = await feed(assessment_client)
    assert [e["event_type"] for e in events] == ["catalog.created", "catalog.published"]
    payload = events[-1]["payload"]
    assert payload["status"] == "published" and payload["country"] == "UZ"
    assert payload["id"] == catalog["id"] and payload["version"] == 1
    assert [c["code"] for c in payload["clusters"]] == ["CL", "CO"]
    question = payload["clusters"][0]["compliance_points"][0]["questions"][0]
    assert question["text"] and question["texts"]["en"] == question["text"]


async def test_threshold_in_force_follows_the_date(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    url = f"/v1/catalogs/{catalog['id']}/thresholds/minimum_monthly_wage"
    july = await assessment_client.get(url, params={"on": "2024-07-15"}, headers=ADMIN)
    september = await assessment_client.get(url, params={"on": "2024-09-01"}, headers=ADMIN)
    assert Decimal(july.json()["value"]) == Decimal("1050000")
    assert Decimal(september.json()["value"]) == Decimal("1155000")
    assert_problem(
        await assessment_client.get(url, params={"on": "2020-01-01"}, headers=ADMIN), 404
    )


def test_threshold_in_force_prefers_the_latest_start() -> None:
    wages = [
        ThresholdIn(name="wage", value=Decimal(1155000), valid_from=date(2024, 8, 1)),
        ThresholdIn(name="wage", value=Decimal(1271000), valid_from=date(2025, 8, 1)),
        ThresholdIn(name="hours", value=Decimal(40), valid_from=date(2023, 4, 30)),
    ]
    assert threshold_in_force(wages, "wage", date(2025, 12, 1)).value == 1271000  # type: ignore[union-attr]
    assert threshold_in_force(wages, "wage", date(2025, 7, 31)).value == 1155000  # type: ignore[union-attr]
    assert threshold_in_force(wages, "wage", date(2024, 7, 31)) is None


async def test_staff_of_another_country_cannot_import(
    assessment_client: httpx.AsyncClient,
) -> None:
    response = await assessment_client.post(
        "/v1/catalogs", json=catalog_doc(), headers=auth_header("staff", country="BD")
    )
    assert_problem(response, 403)


async def test_anyone_signed_in_can_read_catalogues(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    brand = auth_header("brand", brand_id="brd_x")
    listed = await assessment_client.get("/v1/catalogs", params={"country": "UZ"}, headers=brand)
    assert [c["id"] for c in listed.json()["items"]] == [catalog["id"]]
    assert listed.json()["items"][0]["question_count"] == 6


async def test_empty_question_text_is_refused_not_a_crash(
    assessment_client: httpx.AsyncClient,
) -> None:
    doc = catalog_doc()
    doc["clusters"][0]["compliance_points"][0]["questions"][0]["text"] = ""
    body = assert_problem(
        await assessment_client.post("/v1/catalogs", json=doc, headers=ADMIN), 422
    )
    assert any("text" in error["location"] for error in body["errors"])
    assert (await assessment_client.get("/v1/catalogs", headers=ADMIN)).json()["items"] == []
