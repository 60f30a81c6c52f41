"""After a write, a client can tell when the reports include it: the write answers
``Feed-Event: <source>:<position>`` (``<id>`` on SQLite, ``<txid>.<id>`` on PostgreSQL) and
``/v1/reports/freshness?event=`` says whether it is applied. Everything goes through the
gateway; reporting's sync pulls one small page per round."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.common.feed_order import FeedPosition
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from tests.assessment.builders import (
    ADMIN,
    all_findings,
    assert_problem,
    created,
    feed,
    move,
    new_assessment,
    new_factory,
    published_catalog,
    submit_findings,
    walk,
)
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")
RATES = "/v1/reports/non-compliance/compliance-points"


async def applied(client: httpx.AsyncClient, event: str) -> bool:
    response = await client.get("/v1/reports/freshness", params={"event": event}, headers=STAFF)
    assert response.status_code == 200, response.text
    answer = response.json()["event"]
    assert answer["event"] == event
    return bool(answer["applied"])


async def cl1(client: httpx.AsyncClient) -> list[tuple[int, int]]:
    items = (await client.get(RATES, headers=STAFF)).json()["items"]
    return [
        (i["factories_assessed"], i["factories_non_compliant"])
        for i in items
        if i["compliance_point_code"] == "CL-1"
    ]


async def test_freshness_says_applied_exactly_when_the_report_shows_the_write(
    gateway_client: httpx.AsyncClient,
    assessment_app: FastAPI,
    assessment_client: httpx.AsyncClient,
    reporting_app: FastAPI,
) -> None:
    client = gateway_client
    catalog = await published_catalog(client)
    factory = await new_factory(client)
    assessment = await created(await new_assessment(client, factory["id"], catalog["id"]))
    await walk(client, assessment["id"], "in_progress")
    submitted = await submit_findings(client, assessment["id"], all_findings({"CL-1-1"}))
    assert submitted.status_code == 200, submitted.text
    await walk(client, assessment["id"], "draft")
    published = await move(client, assessment["id"], "published")
    assert published.status_code == 200, published.text

    event = published.headers["feed-event"]
    events = await feed(assessment_client)
    # The header names the last event the publication committed: the feed's newest.
    newest = events[-1]
    assert event == f"assessment:{FeedPosition(newest.get('txid'), newest['id'])}"
    assert events[-1]["aggregate_id"] == assessment["id"]
    # Each write names its own event: the findings' came before the publication's.
    assert _position(submitted.headers["feed-event"]).key() < _position(event).key()

    [reader] = make_readers(
        reporting_app.state.db,
        ReportingSettings(sync_page_size=3),
        TEST_AUTH,
        {"assessment": httpx.ASGITransport(app=assessment_app)},
        sources=["assessment"],
    )
    rounds = 0
    async with reader.client:
        while not await applied(client, event):
            # Until the event is applied the report does not count the assessment yet.
            assert await cl1(client) == []
            await reader.pull_page()
            rounds += 1
            assert rounds <= len(events), "the sync never reached the event"
    assert rounds > 1  # it was polled while still pending, not only after
    assert await cl1(client) == [(1, 1)]


async def test_an_earlier_event_is_applied_once_a_later_one_is(
    gateway_client: httpx.AsyncClient, assessment_app: FastAPI, reporting_app: FastAPI
) -> None:
    first = (await gateway_client.post("/v1/factories", json=_factory("A"), headers=ADMIN)).headers
    second = (await gateway_client.post("/v1/factories", json=_factory("B"), headers=ADMIN)).headers
    [reader] = make_readers(
        reporting_app.state.db,
        ReportingSettings(),
        TEST_AUTH,
        {"assessment": httpx.ASGITransport(app=assessment_app)},
        sources=["assessment"],
    )
    async with reader.client:
        await reader.catch_up()
    response = await gateway_client.get(
        "/v1/reports/freshness", params={"event": second["feed-event"]}, headers=STAFF
    )
    answer = response.json()["event"]
    assert answer["applied"] is True
    assert answer["applied_up_to"] == _id(second["feed-event"])
    assert await applied(gateway_client, first["feed-event"])
    # An id the source has not reached yet is not applied.
    assert not await applied(gateway_client, f"assessment:{answer['applied_up_to'] + 1}")


async def test_a_refused_write_and_a_read_name_no_event(gateway_client: httpx.AsyncClient) -> None:
    refused = await gateway_client.post("/v1/factories", json={"country": "UZ"}, headers=ADMIN)
    read = await gateway_client.get("/v1/factories", headers=ADMIN)
    assert_problem(refused, 422)
    assert "feed-event" not in refused.headers
    assert read.status_code == 200 and "feed-event" not in read.headers


async def test_a_malformed_event_is_a_problem_and_reportings_own_is_applied(
    gateway_client: httpx.AsyncClient,
) -> None:
    for bad in ("assessment", "payments:12", "assessment:-1", "assessment:x"):
        response = await gateway_client.get(
            "/v1/reports/freshness", params={"event": bad}, headers=STAFF
        )
        assert_problem(response, 422)
    own = await gateway_client.get(
        "/v1/reports/freshness", params={"event": "reporting:7"}, headers=STAFF
    )
    assert own.json()["event"] == {"event": "reporting:7", "applied": True, "applied_up_to": None}
    plain = await gateway_client.get("/v1/reports/freshness", headers=STAFF)
    assert plain.json()["event"] is None


async def test_the_document_declares_feed_event_on_writes_only(
    gateway_client: httpx.AsyncClient,
) -> None:
    paths = (await gateway_client.get("/openapi.json")).json()["paths"]
    create = paths["/v1/factories"]["post"]["responses"]["201"]["headers"]
    transition = paths["/v1/assessments/{assessment_id}/transitions"]["post"]["responses"]
    listing = paths["/v1/factories"]["get"]["responses"]["200"].get("headers", {})
    assert "Feed-Event" in create
    assert "Feed-Event" in transition["200"]["headers"]
    assert "Feed-Event" not in listing
    assert "Feed-Event" not in transition["409"].get("headers", {})


def _factory(name: str) -> dict[str, str]:
    return {"name": f"Farg'ona Tikuv {name}", "country": "UZ", "region": "Fergana"}


def _position(event: str) -> FeedPosition:
    return FeedPosition.parse(event.removeprefix("assessment:"))


def _id(event: str) -> int:
    return _position(event).id


async def test_a_replayed_keyed_write_names_the_event_of_its_first_answer(
    gateway_client: httpx.AsyncClient,
) -> None:
    keyed = {**ADMIN, "idempotency-key": "freshness-replay-1"}
    first = await gateway_client.post("/v1/factories", json=_factory("K"), headers=keyed)
    again = await gateway_client.post("/v1/factories", json=_factory("K"), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["feed-event"] == first.headers["feed-event"]
