"""Reporting reads a source's feed from whichever of its replicas answers (issue 12,
scale-out): with the first replica down, the sync still catches up from the second."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from tests.assessment.builders import new_factory
from tests.support import TEST_AUTH

DOWN, UP = "http://10.9.9.1:8001", "http://10.9.9.2:8001"


class FirstReplicaDown(httpx.AsyncBaseTransport):
    """The replica at DOWN refuses every connection; UP is the real assessment app."""

    def __init__(self, app: FastAPI) -> None:
        self.up = httpx.ASGITransport(app=app)
        self.reached: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.reached.append(f"http://{request.url.host}:{request.url.port}")
        if self.reached[-1] == DOWN:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.up.handle_async_request(request)


async def test_the_sync_catches_up_from_a_live_replica_when_the_first_is_down(
    assessment_app: FastAPI,
    assessment_client: httpx.AsyncClient,
    reporting_app: FastAPI,
) -> None:
    names = [f"Replica Tekstil {n}" for n in range(3)]
    for name in names:
        await new_factory(assessment_client, name=name)
    transport = FirstReplicaDown(assessment_app)
    [reader] = make_readers(
        reporting_app.state.db,
        ReportingSettings(assessment_url=f"{DOWN},{UP}", sync_page_size=2),
        TEST_AUTH,
        {"assessment": transport},
        sources=["assessment"],
    )
    async with reader.client:
        applied = await reader.catch_up()
    assert applied >= len(names)
    # The dead replica was tried once; every later page went straight to the live one.
    assert transport.reached[0] == DOWN
    assert transport.reached[1:] == [UP] * (len(transport.reached) - 1)
    assert len(transport.reached) > 2
