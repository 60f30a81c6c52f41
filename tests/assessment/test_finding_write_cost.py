"""What one finding's PUT costs the database, counted: one statement reads the assessment (locked)
with its question, one writes the finding (an upsert that also counts the other findings for
the event), then the version UPDATE and the outbox INSERT, one commit. On SQLite every statement
of a write is a trip to the connection's thread while the write lock is held, so a statement
more is throughput lost by every writer (issue 12).

And what the fewer statements must not change: a replaced finding takes every column of the
new one, the event's findings_count, one winner among writers of one version, a writer that
lost the version after its If-Match check stores nothing. Counted, never timed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from sqlmodel import col

from services.assessment.findings import service
from services.assessment.findings.schemas import FindingBody
from services.assessment.models import Assessment, Finding
from services.common.auth import Principal
from services.common.db import Database
from services.common.problems import Problem
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
    walk,
)
from tests.support import auth_header, backend

STAFF = auth_header("staff", country="UZ")


@pytest.fixture
async def opened(assessment_client: httpx.AsyncClient) -> str:
    """An assessment in progress (its CAT: tests/assessment/builders.py catalog_doc)."""
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await created(
        await new_assessment(assessment_client, factory["id"], catalog["id"])
    )
    await walk(assessment_client, assessment["id"], "in_progress")
    return str(assessment["id"])


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The first word of every statement sent on the database's engine, and "COMMIT" for each
    transaction committed (SQLAlchemy commits through the driver, not a cursor)."""
    seen: list[str] = []

    def on_statement(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement.split()[0].upper())

    def on_commit(_c: Any) -> None:
        seen.append("COMMIT")

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


async def put(
    client: httpx.AsyncClient,
    assessment_id: str,
    code: str,
    body: dict[str, Any],
    if_match: str,
    headers: dict[str, str] = ADMIN,
) -> httpx.Response:
    return await client.put(
        f"/v1/assessments/{assessment_id}/findings/{code}",
        json=body,
        headers={**headers, "if-match": if_match},
    )


async def updated_events(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [e for e in await feed(client) if e["event_type"] == "assessment.updated"]


# BEGIN IMMEDIATE is a statement of its own on SQLite; asyncpg opens the transaction itself.
BEGIN = ["BEGIN"] if backend() == "sqlite" else []
# Before: BEGIN, the assessment, the question, the finding, its INSERT or UPDATE, the count,
# the version UPDATE, the event: 8 statements on SQLite, 7 on PostgreSQL.
ONE_FINDING_PUT = [*BEGIN, "SELECT", "INSERT", "UPDATE", "INSERT", "COMMIT"]


async def test_a_finding_put_is_one_read_one_write_the_version_and_its_event(
    assessment_client: httpx.AsyncClient, assessment_database: Database, opened: str
) -> None:
    etag = await current_etag(assessment_client, opened)
    for body in ({"non_compliant": True}, {"non_compliant": False, "notes": "re-checked"}):
        with statements(assessment_database) as seen:
            response = await put(assessment_client, opened, "CL-1-1", body, etag)
        assert response.status_code == 200, response.text
        assert seen == ONE_FINDING_PUT, seen  # a new finding, then the same one replaced
        assert response.headers["etag"] != etag
        etag = response.headers["etag"]
    assert etag == await current_etag(assessment_client, opened)


async def test_a_refused_finding_put_writes_nothing(
    assessment_client: httpx.AsyncClient, assessment_database: Database, opened: str
) -> None:
    etag = await current_etag(assessment_client, opened)
    with statements(assessment_database) as seen:
        stale = await put(assessment_client, opened, "CL-1-1", {"non_compliant": True}, '"x"')
        shape = await put(assessment_client, opened, "CO-2-9", {"non_compliant": True}, etag)
    assert_problem(stale, 412)
    assert assert_problem(shape, 422)["errors"][0]["type"] == "information_only"
    # Each: the one read, then nothing but the rollback.
    assert seen == [*BEGIN, "SELECT"] * 2, seen


async def test_a_replaced_finding_takes_every_column_of_the_new_one(
    assessment_client: httpx.AsyncClient, assessment_database: Database, opened: str
) -> None:
    first = await put(
        assessment_client,
        opened,
        "CL-1-1",
        {"non_compliant": True, "notes": "Проверено", "evidence": ["doc:1", "doc:2"]},
        await current_etag(assessment_client, opened),
    )
    assert first.status_code == 200, first.text
    second = await put(
        assessment_client,
        opened,
        "CL-1-1",
        {"non_compliant": False},
        first.headers["etag"],
        headers=STAFF,
    )
    assert second.status_code == 200, second.text
    replaced = second.json()
    assert replaced == {
        "question_code": "CL-1-1",
        "compliance_point_code": "CL-1",
        "cluster_code": "CL",
        "non_compliant": False,
        "value": None,
        "notes": None,
        "evidence": [],
        "recorded_by": "staff-dev",
        "recorded_at": replaced["recorded_at"],
    }
    assert replaced["recorded_at"] > first.json()["recorded_at"]
    read = await assessment_client.get(f"/v1/assessments/{opened}/findings/CL-1-1", headers=ADMIN)
    assert read.json() == replaced
    # An information question's value goes from a number to text to nothing, in the same row.
    etag = second.headers["etag"]
    for value in (42, "o'n ikki", None):
        body = {} if value is None else {"value": value}
        answer = await put(assessment_client, opened, "CO-2-9", body, etag)
        assert answer.status_code == 200, answer.text
        assert answer.json()["value"] == value and answer.json()["non_compliant"] is None
        etag = answer.headers["etag"]
    async with assessment_database.engine.connect() as connection:
        rows = await connection.execute(
            select(col(Finding.question_code))
            .where(col(Finding.assessment_id) == opened)
            .order_by(col(Finding.question_code))
        )
        assert list(rows.scalars()) == ["CL-1-1", "CO-2-9"]  # one row per question


async def test_the_event_counts_the_findings_after_the_write(
    assessment_client: httpx.AsyncClient, opened: str
) -> None:
    etag = await current_etag(assessment_client, opened)
    counts = []
    steps: list[tuple[str, dict[str, Any]]] = [
        ("CL-1-1", {"non_compliant": True}),
        ("CL-1-2", {"non_compliant": False}),
        ("CL-1-1", {"non_compliant": False}),  # replaced: still two
        ("CO-2-9", {"value": 3}),
    ]
    for code, body in steps:
        response = await put(assessment_client, opened, code, body, etag)
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]
        [*_, event_] = await updated_events(assessment_client)
        assert event_["payload"]["version"] == int(etag.strip('"').rsplit(".v", 1)[1])
        counts.append(event_["payload"]["findings_count"])
    assert counts == [1, 2, 2, 3]
    bulk = await submit_findings(assessment_client, opened, all_findings())
    assert bulk.status_code == 200, bulk.text
    replaced = await put(
        assessment_client, opened, "CO-1-1", {"non_compliant": True}, bulk.headers["etag"]
    )
    assert replaced.status_code == 200, replaced.text
    [*_, event_] = await updated_events(assessment_client)
    assert event_["payload"]["findings_count"] == 6


async def test_of_writers_sending_one_version_one_wins_and_the_others_store_nothing(
    assessment_client: httpx.AsyncClient, opened: str
) -> None:
    etag = await current_etag(assessment_client, opened)
    events_before = len(await feed(assessment_client))
    codes = ["CL-1-1", "CL-1-2", "CO-1-1", "CO-1-2"]
    answers = await asyncio.gather(
        *(put(assessment_client, opened, code, {"non_compliant": True}, etag) for code in codes)
    )
    assert sorted(a.status_code for a in answers) == [200, 412, 412, 412]
    [winner] = [code for code, a in zip(codes, answers, strict=True) if a.status_code == 200]
    listed = await assessment_client.get(f"/v1/assessments/{opened}/findings", headers=ADMIN)
    assert [f["question_code"] for f in listed.json()["items"]] == [winner]
    assert len(await feed(assessment_client)) == events_before + 1


async def test_writers_without_a_version_each_count_the_findings_committed_before_them(
    assessment_client: httpx.AsyncClient, opened: str
) -> None:
    """If-Match: * lets every writer through: each waits for the assessment's lock, and its
    count includes what the writers before it committed (on PostgreSQL a count read with the
    lock, before the wait, would miss them)."""
    codes = ["CL-1-1", "CL-1-2", "CO-1-1", "CO-1-2", "CO-2-1"]
    answers = await asyncio.gather(
        *(put(assessment_client, opened, code, {"non_compliant": True}, "*") for code in codes)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    events = await updated_events(assessment_client)
    by_version = sorted((e["payload"]["version"], e["payload"]["findings_count"]) for e in events)
    assert [count for _, count in by_version] == [1, 2, 3, 4, 5]


async def test_a_writer_that_lost_the_version_after_its_check_gets_412_and_stores_nothing(
    assessment_client: httpx.AsyncClient, assessment_database: Database, opened: str
) -> None:
    """The version UPDATE still checks the version read: a writer past If-Match whose version
    moved on (here moved in its own transaction, as a racing writer would have) is refused and
    its finding, already written by then, rolls back with everything else."""
    events_before = len(await feed(assessment_client))
    principal = Principal(subject="admin-dev", role="admin")
    async with assessment_database.sessionmaker() as session:  # a writer's, as a route's
        target = await service.finding_target(session, opened, "CL-1-1", principal)
        await session.execute(
            update(Assessment)
            .where(col(Assessment.id) == opened)
            .values(version=Assessment.version + 1)
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(Problem) as refused:
            await service.put_finding(
                session, target, "CL-1-1", FindingBody(non_compliant=True), principal
            )
        assert refused.value.status == 412
        await session.rollback()
    listed = await assessment_client.get(f"/v1/assessments/{opened}/findings", headers=ADMIN)
    assert listed.json()["items"] == []
    assert len(await feed(assessment_client)) == events_before
