"""Assessment service: submitting the 250 findings of one assessment in bulk (one request, one
transaction) versus one request per finding, in-process through ASGI, on SQLite or PostgreSQL.

    python -m bench.bench_findings [--database-url postgresql+asyncpg://...] [--repeat 15]

Prints the median bulk time, the median one-at-a-time time for the same 250 findings, and
their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from services.assessment import demo_data
from services.assessment.app import create_app
from services.assessment.settings import AssessmentSettings
from services.common.auth import mint_token
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.settings import AuthSettings

AUTH = AuthSettings(jwt_secret="bench-secret-bench-secret-bench-secret-0123")


async def open_assessment(
    client: httpx.AsyncClient, catalog_id: str, factory_id: str
) -> tuple[str, str]:
    """A new assessment, in progress: its id and its ETag, which the first findings write sends."""
    created = await client.post(
        "/v1/assessments",
        json={
            "factory_id": factory_id,
            "catalog_id": catalog_id,
            "visit_start": "2024-06-04",
            "visit_end": "2024-06-05",
        },
    )
    moved = await client.post(
        f"/v1/assessments/{created.json()['id']}/transitions",
        json={"to": "in_progress"},
        headers={"if-match": created.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    return str(created.json()["id"]), moved.headers["etag"]


async def measure(client: httpx.AsyncClient, repeat: int, singles: int, backend: str) -> None:
    imported = await client.post("/v1/catalogs", json=demo_data.extended_cat(250))
    catalog = imported.json()
    await client.post(
        f"/v1/catalogs/{catalog['id']}/publish", headers={"if-match": imported.headers["etag"]}
    )
    factory = await client.post("/v1/factories", json={"name": "Bench", "country": "UZ"})
    questions = [
        (q["code"], q["kind"], p["code"], c["code"])
        for c in catalog["clusters"]
        for p in c["compliance_points"]
        for q in p["questions"]
    ]
    rng = random.Random(1)

    def findings() -> list[dict[str, Any]]:
        return [
            {k: v for k, v in f.items() if k in ("question_code", "non_compliant", "value")}
            for f in demo_data.generate_findings(rng, questions)
        ]

    async def bulk_once() -> float:
        assessment_id, etag = await open_assessment(client, catalog["id"], factory.json()["id"])
        body = {"findings": findings()}
        started = time.perf_counter()
        response = await client.put(
            f"/v1/assessments/{assessment_id}/findings", json=body, headers={"if-match": etag}
        )
        elapsed = time.perf_counter() - started
        assert response.json()["findings_stored"] == 250, response.text
        return elapsed

    async def singles_once() -> float:
        assessment_id, etag = await open_assessment(client, catalog["id"], factory.json()["id"])
        items = findings()
        started = time.perf_counter()
        for item in items:
            code = item.pop("question_code")
            response = await client.put(
                f"/v1/assessments/{assessment_id}/findings/{code}",
                json=item,
                headers={"if-match": etag},
            )
            assert response.status_code == 200, response.text
            etag = response.headers["etag"]  # each finding moves the assessment on a version
        return time.perf_counter() - started

    await bulk_once()  # warm-up: imports, caches, connection pool
    bulk = [await bulk_once() for _ in range(repeat)]
    one_by_one = [await singles_once() for _ in range(singles)]
    bulk_median, singles_median = statistics.median(bulk), statistics.median(one_by_one)
    print(f"assessment findings, {backend}, 250 findings per assessment")
    print(
        f"  bulk (1 request, 1 transaction): median {bulk_median * 1000:.1f} ms "
        f"over {repeat} runs (min {min(bulk) * 1000:.1f}, max {max(bulk) * 1000:.1f})"
    )
    print(
        f"  one at a time (250 requests):    median {singles_median * 1000:.1f} ms "
        f"over {singles} runs ({singles_median / 250 * 1000:.2f} ms per finding)"
    )
    print(f"  one-at-a-time / bulk ratio:      {singles_median / bulk_median:.1f}x")


async def run(database_url: str | None, repeat: int, singles: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bw-bench-findings-") as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'assessment.db'}"
        schema = f"bench_{uuid.uuid4().hex[:6]}_assessment" if database_url else None
        await asyncio.to_thread(upgrade, "assessment", url, schema)
        database = Database(url, schema)
        app = create_app(AssessmentSettings(), database, AUTH)
        headers = {"authorization": f"Bearer {mint_token(AUTH, role='admin')}"}
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://assessment",
                headers=headers,
            ) as client:
                await measure(client, repeat, singles, "sqlite" if schema is None else "postgresql")
        finally:
            await database.dispose()
            if schema:
                engine = make_engine(url)
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="Default: a scratch SQLite file.")
    parser.add_argument("--repeat", type=int, default=15, help="Bulk runs (median).")
    parser.add_argument("--singles", type=int, default=3, help="One-at-a-time runs (median).")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.repeat, args.singles))


if __name__ == "__main__":
    main()
