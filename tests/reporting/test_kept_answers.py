"""Report answers kept between requests (services/reporting/kept_answers.py): reused while the
read model stands still, computed again as soon as the sync moves it, never handed to another
audience, scope or format; one computation for requests that ask at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.reporting.annual import service as annual_service
from services.reporting.compliance import report
from services.reporting.kept_answers import KeptAnswers, forget_kept_answers
from services.reporting.models import FeedCursor
from tests.reporting.builders import ProgrammeBuilder
from tests.reporting.conftest import sync_sources
from tests.support import auth_header

POINTS = "/v1/reports/non-compliance/compliance-points"
ANNUAL = "/v1/reports/annual/2024"
STAFF = auth_header("staff")
PUBLIC = auth_header("constituent")
YEAR = {"country": "UZ", "year": "2024"}
DAY = date(2024, 5, 2)


@pytest.fixture
async def client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times rates and annual reports were computed, not taken from what was kept."""
    counts = {"rates": 0, "annual": 0}

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return await function(*args, **kwargs)

        return counted

    monkeypatch.setattr(report, "rate_report", counting("rates", report.rate_report))
    monkeypatch.setattr(
        annual_service,
        "read_annual_report",
        counting("annual", annual_service.read_annual_report),
    )
    return counts


def programme(builder: ProgrammeBuilder, factories: int) -> dict[str, Any]:
    catalog = builder.catalog()
    for number in range(factories):
        builder.factory(f"f{number}")
        builder.assessed(f"f{number}", catalog, DAY, findings=number % 2 == 0)
    return catalog


async def rates(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = await client.get(POINTS, params=YEAR, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_answer_is_kept_until_the_sync_applies_a_page(
    reporting_app: FastAPI, client: httpx.AsyncClient, computed: dict[str, int]
) -> None:
    builder = ProgrammeBuilder()
    catalog = programme(builder, 2)
    await sync_sources(reporting_app, builder.sources())
    first = await rates(client, STAFF)
    again = await rates(client, STAFF)
    assert again == first and computed["rates"] == 1

    # A poll that finds nothing new leaves the cursors, and so the kept answer, as they were.
    async with reporting_app.state.db.sessionmaker() as session:
        before = (await session.execute(select(FeedCursor.updated_at))).all()  # type: ignore[call-overload]
    assert await sync_sources(reporting_app, builder.sources()) == 0
    async with reporting_app.state.db.sessionmaker() as session:
        assert (await session.execute(select(FeedCursor.updated_at))).all() == before  # type: ignore[call-overload]
    assert await rates(client, STAFF) == first and computed["rates"] == 1

    builder.factory("late")
    builder.assessed("late", catalog, DAY)
    await sync_sources(reporting_app, builder.sources())
    after = await rates(client, STAFF)
    assert computed["rates"] == 2
    assert after["summary"]["factories_assessed"] == first["summary"]["factories_assessed"] + 1

    forget_kept_answers()  # what the benchmarks do to measure a computed answer
    assert await rates(client, STAFF) == after and computed["rates"] == 3


async def test_an_answer_kept_for_staff_is_never_given_to_the_public(
    reporting_app: FastAPI, client: httpx.AsyncClient, computed: dict[str, int]
) -> None:
    builder = ProgrammeBuilder()
    programme(builder, 2)  # two factories: fewer than the public may see
    await sync_sources(reporting_app, builder.sources())
    staff = await rates(client, STAFF)
    public = await rates(client, PUBLIC)
    assert computed["rates"] == 2
    assert staff["minimum_factories"] is None
    assert any(item["non_compliance_rate"] is not None for item in staff["items"])
    assert public["minimum_factories"] is not None
    assert all(item["non_compliance_rate"] is None for item in public["items"])
    # And the other way round: the public's answer, kept, is not the staff's.
    assert await rates(client, STAFF) == staff
    assert await rates(client, PUBLIC) == public
    assert computed["rates"] == 2


async def test_a_scope_or_a_format_is_an_answer_of_its_own(
    reporting_app: FastAPI, client: httpx.AsyncClient, computed: dict[str, int]
) -> None:
    builder = ProgrammeBuilder()
    programme(builder, 3)
    await sync_sources(reporting_app, builder.sources())
    year = await rates(client, STAFF)
    cycle = (await client.get(POINTS, params={"country": "UZ", "cycle": "2"}, headers=STAFF)).json()
    assert computed["rates"] == 2
    assert year["summary"]["factories_assessed"] == 3
    assert cycle["summary"]["factories_assessed"] == 0

    as_json = await client.get(ANNUAL, params={"country": "UZ"}, headers=STAFF)
    as_html = await client.get(ANNUAL, params={"country": "UZ", "format": "html"}, headers=STAFF)
    as_json_again = await client.get(ANNUAL, params={"country": "UZ"}, headers=STAFF)
    assert as_json.status_code == as_html.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_html.headers["content-type"].startswith("text/html")
    assert as_json_again.content == as_json.content  # generated_at included: the kept report
    assert computed["annual"] == 2  # once per format


async def test_a_refused_report_is_refused_every_time(
    reporting_app: FastAPI, client: httpx.AsyncClient, computed: dict[str, int]
) -> None:
    builder = ProgrammeBuilder()
    programme(builder, 2)
    await sync_sources(reporting_app, builder.sources())
    assert (await client.get(ANNUAL, params={"country": "UZ"}, headers=STAFF)).status_code == 200
    unended = "/v1/reports/annual/2100"
    for _ in range(2):
        refused = await client.get(unended, params={"country": "UZ"}, headers=PUBLIC)
        assert refused.status_code in (400, 403), refused.text


async def test_requests_asking_at_once_share_one_computation() -> None:
    kept = KeptAnswers()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def compute() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "answer"

    first = asyncio.create_task(kept.get((("s", 1),), "key", compute))
    await started.wait()
    others = [asyncio.create_task(kept.get((("s", 1),), "key", compute)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, *others) == ["answer"] * 4
    assert calls == 1


async def test_when_the_computing_request_fails_the_waiting_ones_compute_for_themselves() -> None:
    kept = KeptAnswers()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        raise RuntimeError("the database went away")

    async def working() -> str:
        nonlocal calls
        calls += 1
        return "answer"

    first = asyncio.create_task(kept.get((("s", 1),), "key", failing))
    await started.wait()
    waiting = asyncio.create_task(kept.get((("s", 1),), "key", working))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await first
    assert await waiting == "answer"
    assert calls == 2
    assert await kept.get((("s", 1),), "key", failing) == "answer"  # the success is kept


async def test_the_state_the_capacity_and_the_age_decide_what_is_kept() -> None:
    kept = KeptAnswers(capacity=2)
    calls: list[str] = []

    def compute(value: str) -> Callable[[], Any]:
        async def run() -> str:
            calls.append(value)
            return value

        return run

    state, moved = (("s", 1),), (("s", 2),)
    assert await kept.get(state, "a", compute("a1")) == "a1"
    assert await kept.get(state, "a", compute("a2")) == "a1"
    assert await kept.get(moved, "a", compute("a3")) == "a3"  # the sync moved on
    await kept.get(moved, "b", compute("b1"))
    await kept.get(moved, "a", compute("a4"))  # "a" used last: "b" goes first
    await kept.get(moved, "c", compute("c1"))
    assert await kept.get(moved, "a", compute("a5")) == "a3"
    assert await kept.get(moved, "b", compute("b2")) == "b2"
    assert calls == ["a1", "a3", "b1", "c1", "b2"]

    aged = KeptAnswers(max_age=0.0)
    assert await aged.get(state, "a", compute("x1")) == "x1"
    assert await aged.get(state, "a", compute("x2")) == "x2"
