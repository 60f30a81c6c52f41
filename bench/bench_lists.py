"""Lists and conditional reads (issue 11 s.4): what sort, the total and If-None-Match cost or save,
in-process through ASGI on the assessment service with 2,000 factories, SQLite or PostgreSQL.

    python -m bench.bench_lists [--database-url postgresql+asyncpg://...] [--rounds 200]

Interleaved request by request (each kind once per round, in turn), so the machine's noise falls
on all alike; prints the median of each and its ratio to the plain 50-row list (key order, no
total) or, for reads, to the full 200 answer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from services.assessment.app import create_app
from services.assessment.models import Factory
from services.assessment.settings import AssessmentSettings
from services.common.auth import mint_token
from services.common.db import Database, make_engine
from services.common.ids import new_id
from services.common.migrate import upgrade
from services.common.settings import AuthSettings

AUTH = AuthSettings(jwt_secret="bench-secret-bench-secret-bench-secret-0123")
FACTORIES = 2_000
REGIONS = ["Tashkent", "Samarkand", "Fergana", "Andijan", "Bukhara"]

LISTS = {
    "key order (today's default)": "/v1/factories?limit=50",
    "sort=name": "/v1/factories?limit=50&sort=name",
    "sort=-created_at": "/v1/factories?limit=50&sort=-created_at",
    "sort=name, 3rd page (keyset)": None,  # filled with a real cursor
    "include_total=true": "/v1/factories?limit=50&include_total=true",
    "region=samarkand (case-insensitive)": "/v1/factories?limit=50&region=samarkand",
    "?contry=UZ (unknown, 400)": "/v1/factories?limit=50&contry=UZ",
}


async def seed(database: Database) -> None:
    async with database.sessionmaker() as session:
        for i in range(FACTORIES):
            # Names repeat (ties for sort=name), regions in mixed case.
            session.add(
                Factory(
                    id=new_id("fac"),
                    name=f"Factory {i % 400:03d}",
                    country="UZ",
                    region=REGIONS[i % len(REGIONS)],
                )
            )
        await session.commit()


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 304, 400), response.text
    return elapsed


async def measure(client: httpx.AsyncClient, rounds: int, backend: str) -> None:
    urls = dict(LISTS)
    page = (await client.get("/v1/factories?limit=50&sort=name")).json()
    page = await client.get(f"/v1/factories?limit=50&sort=name&cursor={page['next_cursor']}")
    urls["sort=name, 3rd page (keyset)"] = (
        f"/v1/factories?limit=50&sort=name&cursor={page.json()['next_cursor']}"
    )
    one = (await client.get("/v1/factories?limit=1")).json()["items"][0]["id"]
    read = await client.get(f"/v1/factories/{one}")
    reads = {
        "GET one factory, 200": (f"/v1/factories/{one}", {}),
        "same with If-None-Match, 304": (
            f"/v1/factories/{one}",
            {"if-none-match": read.headers["etag"]},
        ),
    }
    kinds: dict[str, tuple[str, dict[str, str]]] = {
        **{name: (url or "", {}) for name, url in urls.items()},
        **reads,
    }
    for url, headers in kinds.values():  # warm-up
        await timed(client, url, headers)
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, (url, headers) in kinds.items():
            samples[name].append(await timed(client, url, headers))
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    base = medians["key order (today's default)"]
    print(f"lists, {backend}, {FACTORIES} factories, 50 per page, median of {rounds}")
    for name in urls:
        print(f"  {name:40s} {medians[name]:7.2f} ms  {medians[name] / base:5.2f}x")
    full = medians["GET one factory, 200"]
    for name in reads:
        print(f"  {name:40s} {medians[name]:7.2f} ms  {medians[name] / full:5.2f}x")


async def run(database_url: str | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bw-bench-lists-") as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'assessment.db'}"
        schema = f"bench_{uuid.uuid4().hex[:6]}_assessment" if database_url else None
        await asyncio.to_thread(upgrade, "assessment", url, schema)
        database = Database(url, schema)
        await seed(database)
        app = create_app(AssessmentSettings(), database, AUTH)
        headers = {"authorization": f"Bearer {mint_token(AUTH, role='admin')}"}
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://assessment",
                headers=headers,
            ) as client:
                await measure(client, rounds, "sqlite" if schema is None else "postgresql")
        finally:
            await database.dispose()
            if schema:
                engine = make_engine(url)
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.rounds))


if __name__ == "__main__":
    main()
