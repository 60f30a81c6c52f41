"""Backup and restore keep reports consistent: back up, write more, restore, and reporting's
figures equal the naive reference computed from the restored sources' own feed, also when only
the (older) sources are restored under a newer reporting database. On SQLite, and on
PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import col

from bw.backup import restore_backup, write_backup
from bw.errors import OperatorError
from bw.resync import FeedOutcome, resync_reporting
from services.common.db import Database
from services.reporting.models import Factory
from services.reporting.models import metadata as reporting_metadata
from services.reporting.sync.rebuild import SOURCE_AGGREGATES, source_tables
from tests.assessment.builders import feed, new_factory, published_assessment, published_catalog
from tests.bw.conftest import point_bw_at
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import FakeSource, FeedLog, Programme, factory_payload
from tests.reporting.reference import counts, reference
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")
OWN_TABLES = {"feed_cursor", "outbox", "idempotency_record", "report_publication"}
# Reporting's own state beside the read model: webhooks and the leases of its background work.
OWN_TABLES |= {"webhook_subscription", "webhook_delivery", "webhook_attempt"}
OWN_TABLES |= {"webhook_feed_cursor", "worker_lease"}
# The newest version applied per aggregate: beside the cursors, cleared per source on a rebuild.
OWN_TABLES |= {"applied_version"}


@pytest.fixture
def deployment(
    monkeypatch: pytest.MonkeyPatch,
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
) -> None:
    point_bw_at(
        monkeypatch,
        {
            "assessment": assessment_database,
            "training": training_database,
            "reporting": reporting_database,
        },
    )


async def restore(directory: Path, names: list[str], *databases: Database) -> list[FeedOutcome]:
    """`bw restore` with the platform stopped: the test's pools let go of their connections."""
    for database in databases:
        await database.engine.dispose()
    await asyncio.to_thread(restore_backup, directory, names, False)
    return await resync_reporting(TEST_AUTH)


async def assessment_and_sync(client: httpx.AsyncClient, catalog_id: str, bad: set[str]) -> None:
    factory = await new_factory(client, name="Samarqand Ipak", workforce={"total": 420})
    await published_assessment(client, factory["id"], catalog_id, bad)


async def reported(reporting_client: httpx.AsyncClient) -> tuple[int, dict[str, tuple[int, int]]]:
    response = await reporting_client.get(
        "/v1/reports/non-compliance/compliance-points", headers=STAFF
    )
    assert response.status_code == 200, response.text
    body = response.json()
    points = {
        i["compliance_point_code"]: (i["factories_assessed"], i["factories_non_compliant"])
        for i in body["items"]
    }
    return body["summary"]["factories_assessed"], points


async def expected_from_feed(assessment_client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    """The naive reference over the restored assessment service's own change feed."""
    events = await feed(assessment_client)
    bucket = reference(Programme(FeedLog(events), FeedLog(), {})).get(0)
    assert bucket is not None
    return bucket["factories"], counts(bucket, "points")


async def sync_reporting() -> None:
    outcomes = await resync_reporting(TEST_AUTH)
    assert not any(o.rebuilt for o in outcomes), outcomes


@pytest.mark.usefixtures("deployment")
async def test_older_sources_under_newer_reporting_rebuild_to_the_restored_feed(
    tmp_path: Path,
    assessment_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    training_app: FastAPI,
    assessment_database: Database,
    training_database: Database,
) -> None:
    catalog = await published_catalog(assessment_client)
    for bad in ({"CL-1-1"}, set()):
        await assessment_and_sync(assessment_client, catalog["id"], bad)
    await sync_reporting()
    at_backup = await reported(reporting_client)
    await asyncio.to_thread(write_backup, tmp_path / "backup")

    for bad in ({"CO-1-1", "CO-2-1"}, {"CL-1-2"}):
        await assessment_and_sync(assessment_client, catalog["id"], bad)
    await sync_reporting()
    assert (await reported(reporting_client))[0] == 4, "reporting is ahead of the backup"

    restored = await restore(
        tmp_path / "backup", ["assessment", "training"], assessment_database, training_database
    )
    outcomes = {o.source: o for o in restored}
    assert outcomes["assessment"].rebuilt and not outcomes["training"].rebuilt
    # The restored source writes again (ids after the backup now mean other events); syncs on.
    await new_factory(assessment_client, name="Buxoro Tekstil")
    await sync_reporting()

    assert await reported(reporting_client) == await expected_from_feed(assessment_client)
    assert await reported(reporting_client) == at_backup


@pytest.mark.usefixtures("deployment")
async def test_full_restore_gives_the_reports_of_the_backup(
    tmp_path: Path,
    assessment_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    training_app: FastAPI,
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
) -> None:
    catalog = await published_catalog(assessment_client)
    await assessment_and_sync(assessment_client, catalog["id"], {"CO-1-2"})
    await sync_reporting()
    await asyncio.to_thread(write_backup, tmp_path / "backup")
    await assessment_and_sync(assessment_client, catalog["id"], {"CL-1-1"})
    await sync_reporting()

    outcomes = await restore(
        tmp_path / "backup",
        ["reporting", "assessment", "training"],
        assessment_database,
        training_database,
        reporting_database,
    )
    assert not any(o.rebuilt for o in outcomes), "a whole backup is consistent in itself"
    expected = await expected_from_feed(assessment_client)
    assert expected[0] == 1
    assert await reported(reporting_client) == expected


@pytest.mark.usefixtures("deployment", "reporting_app")
async def test_a_backup_taken_while_writes_go_on_is_consistent(
    tmp_path: Path,
    assessment_client: httpx.AsyncClient,
    training_app: FastAPI,
    assessment_database: Database,
) -> None:
    await new_factory(assessment_client, name="Toshkent To'qimachilik")
    await sync_reporting()

    async def keep_writing() -> int:
        written = 0
        while not backup.done():
            await new_factory(assessment_client, name=f"Andijon Tikuv {written}")
            written += 1
        return written

    backup = asyncio.ensure_future(asyncio.to_thread(write_backup, tmp_path / "backup"))
    writes = asyncio.ensure_future(keep_writing())
    manifest = await backup
    assert await writes > 0, "nothing was written during the backup"

    saved = manifest.services
    cursor = saved["reporting"].positions.cursors["assessment"].last_event_id
    assert 0 < cursor <= saved["assessment"].positions.feed_end.last_event_id
    assert manifest.platform_version and saved["assessment"].positions.revision
    # What the manifest says is what the copy holds: restored alone, its feed ends there.
    restored_end = saved["assessment"].positions.feed_end.last_event_id
    await restore(tmp_path / "backup", ["assessment"], assessment_database)
    assert (await feed(assessment_client))[-1]["id"] == restored_end


@pytest.mark.usefixtures("deployment")
async def test_a_damaged_backup_replaces_nothing(
    tmp_path: Path, assessment_client: httpx.AsyncClient, training_app: FastAPI
) -> None:
    await new_factory(assessment_client, name="Farg'ona Paxta")
    await asyncio.to_thread(write_backup, tmp_path / "backup")
    before = await feed(assessment_client)
    for name in ("assessment.db", "assessment.dump"):
        path = tmp_path / "backup" / name
        if path.exists():
            path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(OperatorError, match="does not match its checksum"):
        await asyncio.to_thread(restore_backup, tmp_path / "backup", ["assessment"], False)
    assert await feed(assessment_client) == before


# --- the rebuild itself, against generated feeds ------------------------------------------


def test_every_read_model_table_is_rebuilt_from_exactly_one_source() -> None:
    owners: dict[str, list[str]] = {}
    for source in SOURCE_AGGREGATES:
        for model in source_tables(source):
            owners.setdefault(model.__tablename__, []).append(source)  # type: ignore[arg-type]
    read_model = set(reporting_metadata.tables) - OWN_TABLES
    assert set(owners) == read_model
    assert all(len(sources) == 1 for sources in owners.values()), owners


async def factory_ids(app: FastAPI) -> set[str]:
    async with app.state.db.sessionmaker() as session:
        return set((await session.execute(select(col(Factory.id)))).scalars())


@pytest.mark.parametrize("change", ["shorter", "same_ids_other_events", "unchanged"])
async def test_a_feed_that_no_longer_holds_the_cursor_is_rebuilt(
    reporting_app: FastAPI, change: str
) -> None:
    log = FeedLog()
    for n in range(5):
        log.add("factory.created", factory_payload(f"fac_{n}"))
    await sync_sources(reporting_app, {"assessment": FakeSource(log)})

    restored = FeedLog(events=list(log.events[:3]), clock=datetime(2024, 2, 1, tzinfo=UTC))
    if change == "same_ids_other_events":  # the restored source wrote again: ids 4 and 5
        for n in (3, 4):
            restored.add("factory.created", factory_payload(f"fac_new_{n}"))
    elif change == "unchanged":
        restored = log
    await sync_sources(reporting_app, {"assessment": FakeSource(restored)})

    expected = {
        "shorter": {"fac_0", "fac_1", "fac_2"},
        "same_ids_other_events": {"fac_0", "fac_1", "fac_2", "fac_new_3", "fac_new_4"},
        "unchanged": {f"fac_{n}" for n in range(5)},
    }[change]
    assert await factory_ids(reporting_app) == expected
