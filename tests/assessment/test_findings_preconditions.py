"""Findings writes are conditional on the assessment's ETag: without If-Match 428, with a stale
or unknown one 412, and nothing changes; an accepted write bumps the assessment's version,
answers with the new ETag and says so in its change-feed event. Visibility comes first: an
assessment the caller may not see answers 404 whatever the headers."""

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.assessment.builders import (
    ADMIN,
    all_findings,
    assert_problem,
    created,
    current_etag,
    feed,
    new_assessment,
    new_factory,
    published_catalog,
    submit_findings,
)
from tests.support import auth_header

Write = Callable[[httpx.AsyncClient, str, dict[str, str]], Awaitable[httpx.Response]]


async def bulk(
    client: httpx.AsyncClient, assessment_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.put(
        f"/v1/assessments/{assessment_id}/findings",
        json={"findings": all_findings({"CL-1-1"})},
        headers={**ADMIN, **headers},
    )


async def single(
    client: httpx.AsyncClient, assessment_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.put(
        f"/v1/assessments/{assessment_id}/findings/CL-1-1",
        json={"non_compliant": True},
        headers={**ADMIN, **headers},
    )


WRITES = pytest.mark.parametrize("write", [bulk, single], ids=["bulk", "single"])


@pytest.fixture
async def opened(assessment_client: httpx.AsyncClient) -> dict[str, str]:
    """An assessment in progress, and the ETag it had before it was started (now stale)."""
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    response = await new_assessment(assessment_client, factory["id"], catalog["id"])
    assessment = await created(response)
    started = await assessment_client.post(
        f"/v1/assessments/{assessment['id']}/transitions",
        json={"to": "in_progress"},
        headers={**ADMIN, "if-match": response.headers["etag"]},
    )
    assert started.status_code == 200, started.text
    return {"id": assessment["id"], "stale_etag": response.headers["etag"]}


async def state(client: httpx.AsyncClient, assessment_id: str) -> tuple[object, object, int]:
    """What a refused write must leave alone: the assessment, its findings, the feed."""
    assessment = await client.get(f"/v1/assessments/{assessment_id}", headers=ADMIN)
    findings = await client.get(f"/v1/assessments/{assessment_id}/findings", headers=ADMIN)
    return assessment.json(), findings.json(), len(await feed(client))


@WRITES
async def test_a_findings_write_without_a_current_etag_is_refused_and_changes_nothing(
    assessment_client: httpx.AsyncClient, opened: dict[str, str], write: Write
) -> None:
    before = await state(assessment_client, opened["id"])
    missing = await write(assessment_client, opened["id"], {})
    assert "If-Match" in assert_problem(missing, 428)["detail"]
    for etag in (opened["stale_etag"], '"garbage"', "garbage"):
        assert_problem(await write(assessment_client, opened["id"], {"if-match": etag}), 412)
    assert await state(assessment_client, opened["id"]) == before


@WRITES
async def test_a_findings_write_bumps_the_version_and_answers_with_the_new_etag(
    assessment_client: httpx.AsyncClient, opened: dict[str, str], write: Write
) -> None:
    read = await assessment_client.get(f"/v1/assessments/{opened['id']}", headers=ADMIN)
    version = read.json()["version"]
    written = await write(assessment_client, opened["id"], {"if-match": read.headers["etag"]})
    assert written.status_code == 200, written.text
    after = await assessment_client.get(f"/v1/assessments/{opened['id']}", headers=ADMIN)
    assert after.json()["version"] == version + 1
    assert written.headers["etag"] == after.headers["etag"] != read.headers["etag"]
    [event] = [e for e in await feed(assessment_client) if e["event_type"] == "assessment.updated"]
    assert event["payload"]["version"] == version + 1
    assert event["payload"]["findings_count"] >= 1
    # The ETag the write answered with is good for the next one; the one read before is not.
    again = await write(assessment_client, opened["id"], {"if-match": written.headers["etag"]})
    assert again.status_code == 200, again.text
    assert_problem(
        await write(assessment_client, opened["id"], {"if-match": read.headers["etag"]}), 412
    )


async def test_the_bulk_answer_names_the_new_version(
    assessment_client: httpx.AsyncClient, opened: dict[str, str]
) -> None:
    response = await submit_findings(assessment_client, opened["id"], all_findings())
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == await current_etag(assessment_client, opened["id"])
    assert response.json()["version"] == 3  # created, started, findings


async def test_findings_written_since_a_read_make_its_etag_stale_for_visit_details(
    assessment_client: httpx.AsyncClient, opened: dict[str, str]
) -> None:
    etag = await current_etag(assessment_client, opened["id"])
    written = await submit_findings(assessment_client, opened["id"], all_findings())
    assert written.status_code == 200, written.text
    patched = await assessment_client.patch(
        f"/v1/assessments/{opened['id']}",
        json={"person_days": 9},
        headers={**ADMIN, "if-match": etag},
    )
    assert_problem(patched, 412)


@WRITES
@pytest.mark.parametrize("if_match", [None, '"garbage"'])
async def test_an_assessment_the_caller_may_not_see_answers_404_before_any_precondition(
    assessment_client: httpx.AsyncClient,
    opened: dict[str, str],
    write: Write,
    if_match: str | None,
) -> None:
    headers = {} if if_match is None else {"if-match": if_match}
    elsewhere = {**auth_header("staff", country="BD"), **headers}
    before = await state(assessment_client, opened["id"])
    assert_problem(await write(assessment_client, opened["id"], elsewhere), 404)
    assert_problem(await write(assessment_client, "asm_missing", headers), 404)
    assert await state(assessment_client, opened["id"]) == before


async def test_reading_the_findings_gives_the_etag_to_write_them_with(
    assessment_client: httpx.AsyncClient, opened: dict[str, str]
) -> None:
    url = f"/v1/assessments/{opened['id']}/findings"
    listed = await assessment_client.get(url, headers=ADMIN)
    assert listed.headers["etag"] == await current_etag(assessment_client, opened["id"])
    written = await single(assessment_client, opened["id"], {"if-match": listed.headers["etag"]})
    assert written.status_code == 200, written.text
    one = await assessment_client.get(f"{url}/CL-1-1", headers=ADMIN)
    assert one.headers["etag"] == written.headers["etag"] != listed.headers["etag"]
