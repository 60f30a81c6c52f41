"""Findings: bulk and single submission, validation that names every bad code and stores
nothing, the status gate, results, and corrections as revisions."""

import httpx
import pytest

from tests.assessment.builders import (
    ADMIN,
    all_findings,
    assert_problem,
    catalog_doc,
    created,
    feed,
    move,
    new_assessment,
    new_factory,
    published_assessment,
    published_catalog,
    record_finding,
    submit_findings,
    walk,
)


@pytest.fixture
async def open_assessment(assessment_client: httpx.AsyncClient) -> dict[str, str]:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await created(
        await new_assessment(assessment_client, factory["id"], catalog["id"])
    )
    await walk(assessment_client, assessment["id"], "in_progress")
    return {"id": assessment["id"], "catalog": catalog["id"], "factory": factory["id"]}


async def stored(client: httpx.AsyncClient, assessment_id: str) -> dict[str, dict]:  # type: ignore[type-arg]
    response = await client.get(f"/v1/assessments/{assessment_id}/findings", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {f["question_code"]: f for f in response.json()["items"]}


async def test_bulk_submission_stores_every_finding(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    items = all_findings({"CO-1-1"})
    items[0].update(notes="Проверено: паспорта 24 работников", evidence=["doc:payroll-2024-05"])
    response = await submit_findings(assessment_client, open_assessment["id"], items)
    assert response.status_code == 200, response.text
    assert response.json()["assessment_id"] == open_assessment["id"]
    assert response.json()["findings_stored"] == 6
    findings = await stored(assessment_client, open_assessment["id"])
    assert findings["CO-1-1"]["non_compliant"] is True
    assert findings["CO-1-1"]["compliance_point_code"] == "CO-1"
    assert findings["CO-2-9"]["non_compliant"] is None and findings["CO-2-9"]["value"] == 42
    assert findings["CL-1-1"]["notes"] == "Проверено: паспорта 24 работников"
    assert findings["CL-1-1"]["evidence"] == ["doc:payroll-2024-05"]


async def test_bulk_submission_replaces_the_previous_set(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    await submit_findings(assessment_client, open_assessment["id"], all_findings())
    await submit_findings(
        assessment_client,
        open_assessment["id"],
        [{"question_code": "CL-1-1", "non_compliant": True}],
    )
    assert list(await stored(assessment_client, open_assessment["id"])) == ["CL-1-1"]


async def test_bad_codes_are_all_named_and_nothing_is_stored(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    other = catalog_doc()
    other["clusters"][0]["compliance_points"][0]["questions"][0]["code"] = "CL-1-7"
    await assessment_client.post("/v1/catalogs", json=other, headers=ADMIN)
    await submit_findings(assessment_client, open_assessment["id"], all_findings())
    events_before = len(await feed(assessment_client))
    items = [
        *all_findings({"CL-1-1"}),
        {"question_code": "XX-9-9", "non_compliant": True},
        {"question_code": "CL-1-7", "non_compliant": False},
        {"question_code": "CO-1-2", "non_compliant": None},
    ]
    body = assert_problem(
        await submit_findings(assessment_client, open_assessment["id"], items), 422
    )
    assert body["invalid_question_codes"] == ["CL-1-7", "XX-9-9"]
    assert "CL-1-7" in body["detail"] and "XX-9-9" in body["detail"]
    by_type = {e["type"]: e for e in body["errors"]}
    assert "another CAT version" in by_type["other_catalog_question"]["message"]
    assert by_type["duplicate_question"]["question_code"] == "CO-1-2"
    findings = await stored(assessment_client, open_assessment["id"])
    assert findings["CL-1-1"]["non_compliant"] is False  # the earlier set is untouched
    assert len(await feed(assessment_client)) == events_before


async def test_finding_shapes_follow_the_question_kind(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    assessment_id = open_assessment["id"]
    info_with_verdict = await record_finding(
        assessment_client, assessment_id, "CO-2-9", {"non_compliant": True}
    )
    assert assert_problem(info_with_verdict, 422)["errors"][0]["type"] == "information_only"
    no_verdict = await record_finding(assessment_client, assessment_id, "CO-1-1", {"notes": "?"})
    assert assert_problem(no_verdict, 422)["errors"][0]["type"] == "missing"
    wrong_type = await record_finding(
        assessment_client, assessment_id, "CO-1-1", {"non_compliant": "maybe"}
    )
    assert_problem(wrong_type, 422)
    assert await stored(assessment_client, open_assessment["id"]) == {}


async def test_one_at_a_time_upserts(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    assessment_id = open_assessment["id"]
    first = await record_finding(
        assessment_client, assessment_id, "CO-1-1", {"non_compliant": True}
    )
    assert first.status_code == 200 and first.json()["non_compliant"] is True
    second = await record_finding(
        assessment_client, assessment_id, "CO-1-1", {"non_compliant": False, "notes": "re-checked"}
    )
    assert second.json()["non_compliant"] is False
    one = await assessment_client.get(
        f"/v1/assessments/{assessment_id}/findings/CO-1-1", headers=ADMIN
    )
    assert one.json()["notes"] == "re-checked"
    assert_problem(
        await record_finding(assessment_client, assessment_id, "NOPE-1", {"non_compliant": True}),
        422,
    )


@pytest.mark.parametrize("status", ["scheduled", "factory_review", "published", "cancelled"])
async def test_findings_are_refused_outside_in_progress_and_draft(
    assessment_client: httpx.AsyncClient, status: str
) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await created(
        await new_assessment(assessment_client, factory["id"], catalog["id"])
    )
    path = {
        "scheduled": [],
        "factory_review": ["in_progress", "draft", "factory_review"],
        "published": ["in_progress", "draft", "published"],
        "cancelled": ["cancelled"],
    }[status]
    if path[:1] == ["in_progress"]:
        await walk(assessment_client, assessment["id"], "in_progress")
        await submit_findings(assessment_client, assessment["id"], all_findings())
        path = path[1:]
    await walk(assessment_client, assessment["id"], *path)
    refused = await submit_findings(assessment_client, assessment["id"], all_findings({"CL-1-1"}))
    assert assert_problem(refused, 409)["status_now"] == status
    single = await record_finding(
        assessment_client, assessment["id"], "CL-1-1", {"non_compliant": True}
    )
    assert_problem(single, 409)
    current = await stored(assessment_client, assessment["id"])
    assert all(not f["non_compliant"] for f in current.values())


async def test_results_by_compliance_point_and_cluster(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    await submit_findings(assessment_client, open_assessment["id"], all_findings({"CO-1-2"}))
    results = (
        await assessment_client.get(
            f"/v1/assessments/{open_assessment['id']}/results", headers=ADMIN
        )
    ).json()
    assert results["compliance_points_assessed"] == 3
    assert results["compliance_points_non_compliant"] == 1
    assert results["non_compliance_rate"] == pytest.approx(1 / 3)
    clusters = {c["code"]: c for c in results["clusters"]}
    assert clusters["CL"]["non_compliant"] is False
    assert clusters["CO"]["non_compliant"] is True and clusters["CO"]["name"] == "Compensation"
    points = {p["code"]: p for p in clusters["CO"]["compliance_points"]}
    assert points["CO-1"]["non_compliant_questions"] == ["CO-1-2"]
    assert points["CO-2"]["questions_answered"] == 1  # the information question is left out


async def test_published_event_carries_the_findings(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await published_assessment(
        assessment_client, factory["id"], catalog["id"], bad={"CL-1-2"}
    )
    [event] = [
        e for e in await feed(assessment_client) if e["event_type"] == "assessment.published"
    ]
    payload = event["payload"]
    assert payload["id"] == assessment["id"] and payload["country"] == "UZ"
    assert payload["status"] == "published" and payload["published_at"]
    findings = {f["question_code"]: f for f in payload["findings"]}
    assert len(findings) == 6
    assert findings["CL-1-2"] == {
        "question_code": "CL-1-2",
        "compliance_point_code": "CL-1",
        "cluster_code": "CL",
        "non_compliant": True,
        "value": None,
    }
    assert findings["CO-2-9"]["non_compliant"] is None and findings["CO-2-9"]["value"] == 42


async def test_published_assessment_is_immutable_and_corrected_by_revision(
    assessment_client: httpx.AsyncClient,
) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    original = await published_assessment(assessment_client, factory["id"], catalog["id"])
    url = f"/v1/assessments/{original['id']}"
    patched = await assessment_client.patch(
        url, json={"person_days": 5}, headers={**ADMIN, "if-match": "*"}
    )
    assert_problem(patched, 409)
    revision = await created(await assessment_client.post(f"{url}/revisions", headers=ADMIN))
    assert revision["supersedes_id"] == original["id"] and revision["revision"] == 2
    assert revision["status"] == "draft" and revision["cycle"] == original["cycle"]
    assert_problem(await assessment_client.post(f"{url}/revisions", headers=ADMIN), 409)
    corrected = await record_finding(
        assessment_client, revision["id"], "CL-1-1", {"non_compliant": True}
    )
    assert corrected.status_code == 200, corrected.text
    assert (await move(assessment_client, revision["id"], "published")).status_code == 200
    old = (await assessment_client.get(url, headers=ADMIN)).json()
    assert old["status"] == "published" and old["version"] == original["version"]
    old_findings = await stored(assessment_client, original["id"])
    assert old_findings["CL-1-1"]["non_compliant"] is False
    published = [
        e for e in await feed(assessment_client) if e["event_type"] == "assessment.published"
    ]
    assert [e["payload"]["supersedes_id"] for e in published] == [None, original["id"]]
    assert published[-1]["payload"]["cycle"] == 1


async def test_cycles_count_the_factory_assessments(assessment_client: httpx.AsyncClient) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    other = await new_factory(assessment_client, name="Other")
    first = await created(await new_assessment(assessment_client, factory["id"], catalog["id"]))
    cancelled = await created(await new_assessment(assessment_client, factory["id"], catalog["id"]))
    await walk(assessment_client, cancelled["id"], "cancelled")
    second = await created(await new_assessment(assessment_client, factory["id"], catalog["id"]))
    elsewhere = await created(await new_assessment(assessment_client, other["id"], catalog["id"]))
    assert (first["cycle"], second["cycle"], elsewhere["cycle"]) == (1, 2, 1)


async def test_assessment_needs_a_published_catalogue_of_its_country(
    assessment_client: httpx.AsyncClient,
) -> None:
    factory = await new_factory(assessment_client)
    draft = await created(
        await assessment_client.post("/v1/catalogs", json=catalog_doc(), headers=ADMIN)
    )
    bangladesh = await published_catalog(assessment_client, country="BD")
    for catalog_id, words in (
        (draft["id"], "not published"),
        (bangladesh["id"], "BD"),
        ("cat_missing", "unknown"),
    ):
        body = assert_problem(
            await new_assessment(assessment_client, factory["id"], catalog_id), 422
        )
        assert words in body["detail"]
    bad_dates = await new_assessment(
        assessment_client,
        factory["id"],
        bangladesh["id"],
        visit_start="2024-05-15",
        visit_end="2024-05-14",
    )
    assert_problem(bad_dates, 422)
    listed = await assessment_client.get("/v1/assessments", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_visit_details_update_with_if_match(
    assessment_client: httpx.AsyncClient, open_assessment: dict[str, str]
) -> None:
    url = f"/v1/assessments/{open_assessment['id']}"
    etag = (await assessment_client.get(url, headers=ADMIN)).headers["etag"]
    response = await assessment_client.patch(
        url,
        json={"person_days": 4.5, "process_integrity": {"access_restrictions": "Цех №3 закрыт"}},
        headers={**ADMIN, "if-match": etag},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["person_days"] == 4.5
    assert body["process_integrity"]["access_restrictions"] == "Цех №3 закрыт"
    catalog_change = await assessment_client.patch(
        url,
        json={"catalog_id": "cat_other"},
        headers={**ADMIN, "if-match": response.headers["etag"]},
    )
    assert_problem(catalog_change, 422)
    reversed_dates = await assessment_client.patch(
        url,
        json={"visit_end": "2024-01-01"},
        headers={**ADMIN, "if-match": response.headers["etag"]},
    )
    assert_problem(reversed_dates, 422)
