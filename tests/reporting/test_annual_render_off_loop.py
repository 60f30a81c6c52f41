"""A document (HTML, PDF, XLSX) of the annual report is laid out off the event loop, so the
reporting process keeps answering while a PDF takes its second of CPU."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.annual import render
from services.reporting.annual.schemas import AnnualReport
from tests.support import auth_header

STAFF = auth_header("staff")
URL = "/v1/reports/annual/2023"


@pytest.fixture
async def client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


@pytest.mark.parametrize("fmt", ["pdf", "xlsx", "html"])
async def test_other_requests_are_answered_while_a_document_is_laid_out(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    started, release = threading.Event(), threading.Event()
    happened: list[str] = []
    real = render.render

    def slow_render(report: AnnualReport, chosen: str) -> bytes | str:
        started.set()
        release.wait(timeout=5)  # on the loop, this would hold every other request
        happened.append("rendered")
        return real(report, chosen)

    monkeypatch.setattr(render, "render", slow_render)
    document = asyncio.create_task(
        client.get(URL, params={"country": "UZ", "format": fmt}, headers=STAFF)
    )
    while not started.is_set():
        await asyncio.sleep(0.01)
        assert not document.done(), document.result().text
    health = await client.get("/health/live")
    rates = await client.get(
        "/v1/reports/non-compliance/compliance-points",
        params={"year": 2023, "country": "UZ"},
        headers=STAFF,
    )
    happened.append("answered")
    release.set()
    response = await document

    assert (health.status_code, rates.status_code, response.status_code) == (200, 200, 200)
    assert happened == ["answered", "rendered"]
    assert response.headers["content-type"].startswith(render.FORMATS[fmt])


async def test_json_and_csv_stay_on_the_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They take less than the trip to the render thread would."""
    threads: list[int] = []
    real = render.render

    def recording(report: AnnualReport, chosen: str) -> bytes | str:
        threads.append(threading.get_ident())
        return real(report, chosen)

    monkeypatch.setattr(render, "render", recording)
    for fmt in ("json", "csv"):
        response = await client.get(URL, params={"country": "UZ", "format": fmt}, headers=STAFF)
        assert response.status_code == 200, response.text
    assert threads == [threading.get_ident()] * 2
