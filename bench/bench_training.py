"""Training service: attendance uploads (one transaction per list) and session reads with counts,
in-process through ASGI (no network), on SQLite or PostgreSQL.

    python -m bench.bench_training [--database-url postgresql+asyncpg://...] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from services.common.auth import mint_token
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.settings import AuthSettings
from services.training.app import create_app
from services.training.settings import TrainingSettings

AUTH = AuthSettings(jwt_secret="bench-secret-bench-secret-bench-secret-0123")
FACTORIES = [f"fac_bench{n}" for n in range(9)]


def rows(count: int) -> list[dict[str, Any]]:
    roles = ["worker", "worker", "worker", "supervisor", "manager", "worker_representative"]
    return [
        {
            "full_name": f"Ishtirokchi {i}",
            "sex": "female" if i % 4 else "male",
            "role": roles[i % len(roles)],
            "factory_id": FACTORIES[i % len(FACTORIES)],
            "completed": i % 10 != 0,
        }
        for i in range(count)
    ]


async def run(database_url: str | None, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bw-bench-training-") as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'training.db'}"
        schema = f"bench_{uuid.uuid4().hex[:6]}_training" if database_url else None
        await asyncio.to_thread(upgrade, "training", url, schema)
        database = Database(url, schema)
        app = create_app(
            TrainingSettings(),
            database,
            AUTH,
            assessment_transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
        )
        headers = {"authorization": f"Bearer {mint_token(AUTH, role='staff')}"}
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://training", headers=headers
            ) as client:
                await report(client, repeat, "sqlite" if schema is None else "postgresql")
        finally:
            await database.dispose()
            if schema:
                engine = make_engine(url)
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                await engine.dispose()


async def report(client: httpx.AsyncClient, repeat: int, backend: str) -> None:
    course = await client.post(
        "/v1/courses", json={"code": "B1", "title": {"en": "Bench"}, "topic": "osh"}
    )
    body = {
        "course_id": course.json()["id"],
        "start_date": "2024-05-01",
        "end_date": "2024-05-02",
        "delivery": "multi_factory",
        "factory_ids": FACTORIES,
    }
    print(f"training attendance on {backend}, median of {repeat}")
    for size in (40, 1_000, 5_000):
        session = await client.post("/v1/training-sessions", json=body)
        etag = session.headers["etag"]
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = await client.put(
                f"/v1/training-sessions/{session.json()['id']}/attendance",
                json={"participants": rows(size)},
                headers={"if-match": etag},
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            etag = response.headers["etag"]
        median = statistics.median(timings)
        print(f"  upload {size:>5} rows: {median * 1000:8.1f} ms  ({size / median:,.0f} rows/s)")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        listed = await client.get("/v1/training-sessions?limit=50")
        timings.append(time.perf_counter() - started)
        assert listed.status_code == 200
    print(
        f"  list sessions with counts (3 sessions, 6,040 participants): "
        f"{statistics.median(timings) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.repeat))


if __name__ == "__main__":
    main()
