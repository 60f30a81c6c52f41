"""The client of the assessment service: one per app, made at startup and closed at shutdown
(not one per request, each with its own SSL context and connections), yet each reference check
still carries its own caller's token and still fails closed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import services.training.assessment_client as assessment_client
from services.common.http_client import make_client
from tests.support import auth_header
from tests.training.builders import (
    ADMIN,
    STAFF,
    FakeAssessment,
    assert_problem,
    create_course,
    create_session,
)


class RecordingTransport(httpx.MockTransport):
    """The fake assessment service, noting each call's token and whether it was closed."""

    def __init__(self, fake: FakeAssessment) -> None:
        self.tokens: list[str] = []
        self.closed = False

        def handle(request: httpx.Request) -> httpx.Response:
            self.tokens.append(request.headers["authorization"])
            return fake.handle(request)

        super().__init__(handle)

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[httpx.AsyncClient]:
    """Every client of the assessment service the training service makes."""
    clients: list[httpx.AsyncClient] = []
    make = make_client

    def counted(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        clients.append(make(*args, **kwargs))
        return clients[-1]

    monkeypatch.setattr(assessment_client, "make_client", counted)
    return clients


@pytest.fixture
def recording(training_app: FastAPI, fake_assessment: FakeAssessment) -> RecordingTransport:
    transport = RecordingTransport(fake_assessment)
    training_app.state.assessment_transport = transport
    return transport


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The lifespan configures the process's logging: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def check_references(client: httpx.AsyncClient, course_id: str, who: dict[str, str]) -> None:
    created = await client.post(
        "/v1/training-sessions",
        json={
            "course_id": course_id,
            "start_date": "2024-05-14",
            "end_date": "2024-05-14",
            "delivery": "in_factory",
            "factory_ids": ["fac_A"],
        },
        headers=who,
    )
    assert created.status_code == 201, created.text


async def test_requests_share_one_client_each_sending_its_callers_token(
    client: httpx.AsyncClient, recording: RecordingTransport, made: list[httpx.AsyncClient]
) -> None:
    course = await create_course(client)
    callers = [STAFF, ADMIN, auth_header("staff", country="UZ"), STAFF]
    for who in callers:
        await check_references(client, course["id"], who)
    assert len(made) == 1, "one client for every request"
    assert recording.tokens == [who["authorization"] for who in callers]
    assert not made[0].is_closed


async def test_the_client_is_made_at_startup_and_closed_at_shutdown(
    training_app: FastAPI,
    recording: RecordingTransport,
    made: list[httpx.AsyncClient],
    root_logging: None,
) -> None:
    async with training_app.router.lifespan_context(training_app):
        assert len(made) == 1, "made when the app starts"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=training_app), base_url="http://training"
        ) as client:
            course = await create_course(client)
            await check_references(client, course["id"], STAFF)
            await check_references(client, course["id"], ADMIN)
        assert len(made) == 1 and not made[0].is_closed and not recording.closed
        assert len(recording.tokens) == 2
    assert made[0].is_closed and recording.closed, "closed, with its connections, at shutdown"


async def test_a_replaced_transport_is_used_and_the_client_it_replaces_closed_at_shutdown(
    training_app: FastAPI,
    fake_assessment: FakeAssessment,
    recording: RecordingTransport,
    made: list[httpx.AsyncClient],
    root_logging: None,
) -> None:
    """Tests point a running app elsewhere by replacing ``app.state.assessment_transport``."""
    async with training_app.router.lifespan_context(training_app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=training_app), base_url="http://training"
        ) as client:
            course = await create_course(client)
            await check_references(client, course["id"], STAFF)
            other = RecordingTransport(fake_assessment)
            training_app.state.assessment_transport = other
            await check_references(client, course["id"], STAFF)
            await check_references(client, course["id"], STAFF)
        assert len(recording.tokens) == 1 and len(other.tokens) == 2 and len(made) == 2
        assert not recording.closed, "a request may still be using it"
    assert made[0].is_closed and made[1].is_closed and recording.closed and other.closed


async def test_a_shared_client_still_fails_closed(
    client: httpx.AsyncClient, fake_assessment: FakeAssessment, recording: RecordingTransport
) -> None:
    """Down (503, Retry-After) after a call that worked, then up again: nothing kept between."""
    course = await create_course(client)
    await check_references(client, course["id"], STAFF)
    fake_assessment.down = True
    refused = await create_session(
        client, course["id"], factory_ids=["fac_B"], delivery="in_factory"
    )
    assert_problem(refused, 503)
    assert refused.headers["retry-after"] == "5"
    fake_assessment.down = False
    unknown = await create_session(
        client, course["id"], factory_ids=["fac_Z"], delivery="in_factory"
    )
    assert_problem(unknown, 422)
    listed = (await client.get("/v1/training-sessions", headers=STAFF)).json()["items"]
    assert [s["factory_ids"] for s in listed] == [["fac_A"]]
