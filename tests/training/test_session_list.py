"""The sessions list (`GET /v1/training-sessions`, a read of the load mix): a page costs one
statement for the sessions with their courses' topics and one for their participant counts,
however long the page; the counts it shows are those of the attendance lists, the same as the
session's own views and its feed event show. Counted, never timed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from services.common.db import Database
from services.training.training_sessions.attendance import SEX_ROLE_PAIRS, counts_by_session
from tests.support import auth_header
from tests.training.builders import STAFF, attendee, create_course, create_session, feed

SEXES = ("female", "male")
ROLES = ("worker", "supervisor", "manager", "worker_representative")
FACTORY_A = auth_header("factory", factory_id="fac_A")


@pytest.fixture
def selects(training_database: Database) -> Iterator[list[str]]:
    """Every SELECT the training database runs while the test does."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = training_database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def expected_counts(rows: list[dict[str, Any]], only_factory: str | None = None) -> dict[str, Any]:
    """The counts of an attendance list, added up one participant at a time. ``by_factory``
    names the factories in the order their first participant who attended appears when the
    list is sorted by sex, role and factory: the order the counts have always had on SQLite."""
    rows = [r for r in rows if only_factory in (None, r["factory_id"])]
    attended = [r for r in rows if r["attended"]]
    by_factory: dict[str, int] = {}
    for row in sorted(attended, key=lambda r: (r["sex"], r["role"], r["factory_id"])):
        by_factory[row["factory_id"]] = by_factory.get(row["factory_id"], 0) + 1
    return {
        "total": len(attended),
        "registered": len(rows),
        "completed": sum(r["completed"] for r in attended),
        "by_sex": {sex: sum(r["sex"] == sex for r in attended) for sex in SEXES},
        "by_role": {role: sum(r["role"] == role for r in attended) for role in ROLES},
        "by_factory": by_factory,
    }


def random_list(rng: random.Random, factories: list[str]) -> list[dict[str, Any]]:
    rows = []
    for index in range(rng.randint(0, 25)):
        attended = rng.random() > 0.2
        rows.append(
            attendee(
                index,
                rng.choice(factories),
                sex=rng.choice(SEXES),
                role=rng.choice(ROLES),
                attended=attended,
                completed=attended and rng.random() > 0.3,
            )
        )
    return rows


async def upload(
    client: httpx.AsyncClient, created: httpx.Response, rows: list[dict[str, Any]]
) -> httpx.Response:
    response = await client.put(
        f"/v1/training-sessions/{created.json()['id']}/attendance",
        json={"participants": rows},
        headers={**STAFF, "if-match": created.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    return response


async def sessions_with_lists(
    client: httpx.AsyncClient, how_many: int, seed: int = 12
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """``how_many`` sessions of two courses, in one to three factories, each with a random
    attendance list (some empty): their lists by session id, and each course's topic."""
    rng = random.Random(seed)
    courses = [
        await create_course(client),
        await create_course(client, code="OSH", topic="osh", title={"en": "OSH"}),
    ]
    lists: dict[str, list[dict[str, Any]]] = {}
    for n in range(how_many):
        factories = rng.sample(["fac_A", "fac_B", "fac_C"], k=rng.randint(1, 3))
        created = await create_session(
            client,
            courses[n % 2]["id"],
            factory_ids=factories,
            delivery="multi_factory" if len(factories) > 1 else "in_factory",
        )
        assert created.status_code == 201, created.text
        rows = random_list(rng, factories)
        if rows:
            await upload(client, created, rows)
        lists[created.json()["id"]] = rows
    return lists, {c["id"]: c["topic"] for c in courses}


async def test_a_page_of_sessions_costs_two_statements_however_long(
    client: httpx.AsyncClient, selects: list[str]
) -> None:
    """One SELECT for the page (with each course's topic), one for the counts of all its
    sessions: a statement per session or per course would fail this."""
    lists, _topics = await sessions_with_lists(client, 21)
    for limit in (2, 20):
        selects.clear()
        page = await client.get(f"/v1/training-sessions?limit={limit}", headers=STAFF)
        assert len(page.json()["items"]) == limit and page.json()["next_cursor"]
        assert len(selects) == 2, selects
    selects.clear()
    own = await client.get("/v1/training-sessions?limit=20", headers=FACTORY_A)
    assert own.json()["items"] and len(selects) == 2, selects
    selects.clear()
    counted = await client.get("/v1/training-sessions?limit=20&include_total=true", headers=STAFF)
    assert counted.json()["total"] == len(lists) and len(selects) == 3, selects
    selects.clear()
    none = await client.get("/v1/training-sessions?factory_id=fac_X", headers=STAFF)
    assert none.json()["items"] == [] and len(selects) == 1, selects


async def test_listed_sessions_are_their_attendance_lists_as_every_other_view_shows_them(
    client: httpx.AsyncClient,
) -> None:
    lists, topics = await sessions_with_lists(client, 14)
    listed = await client.get("/v1/training-sessions?limit=500", headers=STAFF)
    items = listed.json()["items"]
    assert sorted(s["id"] for s in items) == sorted(lists)
    events = {
        e["aggregate_id"]: e["payload"]
        for e in await feed(client)
        if e["event_type"].startswith("training_session.")
    }
    for item in items:
        expected = expected_counts(lists[item["id"]])
        assert item["participants"] == expected
        assert list(item["participants"]["by_factory"]) == list(expected["by_factory"])
        assert item["course_topic"] == topics[item["course_id"]]
        one = await client.get(f"/v1/training-sessions/{item['id']}", headers=STAFF)
        assert one.content in listed.content  # the same item, byte for byte
        assert events[item["id"]]["participants"] == item["participants"]
    factory_view = await client.get("/v1/training-sessions?limit=500", headers=FACTORY_A)
    own = factory_view.json()["items"]
    assert {s["id"] for s in own} == {s["id"] for s in items if "fac_A" in s["factory_ids"]}
    for item in own:
        assert item["factory_ids"] == ["fac_A"]
        assert item["participants"] == expected_counts(lists[item["id"]], "fac_A")
        counts = f"/v1/training-sessions/{item['id']}/participant-counts"
        assert (await client.get(counts, headers=FACTORY_A)).json() == item["participants"]
        one = await client.get(f"/v1/training-sessions/{item['id']}", headers=FACTORY_A)
        assert one.content in factory_view.content


async def test_factories_are_counted_in_the_order_of_their_first_sex_and_role(
    client: httpx.AsyncClient,
) -> None:
    """fac_C's only attendee is a woman manager, fac_A's men workers: fac_C comes first, as it
    always did on SQLite, though A sorts before C (a list whose order changed would fail)."""
    course = await create_course(client)
    created = await create_session(client, course["id"], factory_ids=["fac_A", "fac_B", "fac_C"])
    rows = [
        attendee(0, "fac_A", sex="male", role="worker"),
        attendee(1, "fac_B", sex="female", role="worker", attended=False, completed=False),
        attendee(2, "fac_A", sex="male", role="supervisor"),
        attendee(3, "fac_C", sex="female", role="manager"),
        attendee(4, "fac_B", sex="male", role="manager"),
    ]
    uploaded = await upload(client, created, rows)
    counts = uploaded.json()["participants"]
    assert list(counts["by_factory"].items()) == [("fac_C", 1), ("fac_B", 1), ("fac_A", 2)]
    listed = (await client.get("/v1/training-sessions", headers=STAFF)).json()["items"]
    assert list(listed[0]["participants"]["by_factory"]) == ["fac_C", "fac_B", "fac_A"]


def test_an_attendee_of_a_sex_or_role_outside_the_vocabulary_fails_the_counts() -> None:
    """As adding such a participant to the counts model always failed: never counted silently."""
    known = [1 if pair == ("female", "worker") else 0 for pair in SEX_ROLE_PAIRS]
    assert counts_by_session([("trs_1", "fac_A", 2, 1, 0, *known)])["trs_1"]["total"] == 1
    with pytest.raises(ValueError, match="unknown sex or role"):
        counts_by_session([("trs_1", "fac_A", 2, 2, 0, *known)])
