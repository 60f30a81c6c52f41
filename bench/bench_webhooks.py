"""What webhooks cost: the sync applying the same programme with no subscription, with ten
programme-wide ones (admin) and with ten brand ones (consent checked per event), side by side;
and how fast the deliverer signs, sends and logs to an in-process receiver.

    python -m bench.bench_webhooks [--factories 40] [--runs 5] [--database-url postgresql+...]

In-process (the feeds and the receiver are ASGI/mock transports), one fresh database per run.
Prints medians and ratios; asserts only that the runs did the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.reporting.models import BrandConsent
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from services.reporting.webhooks import signing
from services.reporting.webhooks.deliverer import Deliverer
from services.reporting.webhooks.events import EVENT_TYPES
from services.reporting.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.reporting.feedgen import FakeSource, Programme, fake_source_app, generate_programme
from tests.support import TEST_AUTH

SUBSCRIPTIONS = 10


async def fresh_database(url: str | None, scratch: Path, run: int) -> Database:
    if url is None:
        target, schema = f"sqlite+aiosqlite:///{scratch / f'run{run}.db'}", None
    else:
        target, schema = url, f"bench_webhooks_{run}_{int(time.time())}"
    await asyncio.to_thread(upgrade, "reporting", target, schema)
    return Database(target, schema)


async def drop(database: Database) -> None:
    if database.schema:
        engine = make_engine(database.url)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))
        await engine.dispose()
    await database.dispose()


async def subscribe(database: Database, kind: str, factory_ids: list[str]) -> None:
    async with database.sessionmaker() as session:
        for n in range(SUBSCRIPTIONS if kind != "none" else 0):
            brand = f"brd_{n}" if kind == "brand" else None
            session.add(
                WebhookSubscription(
                    id=f"whk_{n}",
                    url="http://receiver.test/hook",
                    event_types=list(EVENT_TYPES),
                    owner_subject=f"bench-{n}",
                    owner_role="brand" if brand else "admin",
                    brand_id=brand,
                    secret=signing.new_secret(),
                    created_at=datetime(2000, 1, 1, tzinfo=UTC),
                )
            )
            if brand:  # each brand has half the factories consenting
                for index, factory in enumerate(factory_ids):
                    if (index + n) % 2 == 0:
                        session.add(
                            BrandConsent(id=f"con_{n}_{index}", factory_id=factory, brand_id=brand)
                        )
        await session.commit()


async def sync_seconds(database: Database, programme: Programme) -> float:
    transports: dict[str, httpx.AsyncBaseTransport] = {
        "assessment": httpx.ASGITransport(
            app=fake_source_app(FakeSource(programme.assessment), TEST_AUTH)
        ),
        "training": httpx.ASGITransport(
            app=fake_source_app(FakeSource(programme.training), TEST_AUTH)
        ),
    }
    readers = make_readers(database, ReportingSettings(sync_page_size=200), TEST_AUTH, transports)
    started = time.perf_counter()
    for reader in readers:
        async with reader.client:
            await reader.catch_up()
    return time.perf_counter() - started


async def queued(database: Database) -> int:
    async with database.sessionmaker() as session:
        count = await session.execute(select(func.count()).select_from(WebhookDelivery))
        return int(count.scalar_one())


async def deliver_seconds(database: Database) -> float:
    settings = ReportingSettings(webhook_allow_private_urls=True)
    sender = Deliverer(database, settings, httpx.MockTransport(lambda _r: httpx.Response(204)))
    started = time.perf_counter()
    while await sender.run_once():
        pass
    elapsed = time.perf_counter() - started
    await sender.close()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factories", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    programme = generate_programme(seed=7, factories=args.factories, cycles=3)
    events = len(programme.assessment.events) + len(programme.training.events)
    factory_ids = [
        e["aggregate_id"] for e in programme.assessment.events if e["aggregate_type"] == "factory"
    ]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{backend}: {args.factories} factories, {events} feed events, {args.runs} runs each")
    sync: dict[str, list[float]] = {"none": [], "admin": [], "brand": []}
    sends: list[float] = []
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        run = 0
        for _round in range(args.runs):
            for kind in sync:  # interleaved, so drift hits every kind alike
                run += 1
                database = await fresh_database(args.database_url, Path(scratch), run)
                try:
                    await subscribe(database, kind, factory_ids)
                    sync[kind].append(await sync_seconds(database, programme))
                    count = await queued(database)
                    assert counts.setdefault(kind, count) == count
                    if kind == "admin":
                        sends.append(await deliver_seconds(database))
                finally:
                    await drop(database)
    base = statistics.median(sync["none"])
    print(
        f"\n{'sync of the whole feed':<34}{'median':>10}{'events/s':>10}{'queued':>8}{'ratio':>7}"
    )
    for kind, label in [
        ("none", "no subscription"),
        ("admin", f"{SUBSCRIPTIONS} admin subscriptions"),
        ("brand", f"{SUBSCRIPTIONS} brand subscriptions"),
    ]:
        median = statistics.median(sync[kind])
        print(
            f"{label:<34}{median * 1000:>8.0f}ms{events / median:>10.0f}"
            f"{counts[kind]:>8}{median / base:>7.2f}"
        )
    median_send = statistics.median(sends)
    print(
        f"\ndeliverer: {counts['admin']} deliveries in {median_send * 1000:.0f} ms (median): "
        f"{counts['admin'] / median_send:.0f}/s, {median_send / counts['admin'] * 1000:.2f} ms each"
    )


if __name__ == "__main__":
    asyncio.run(main())
