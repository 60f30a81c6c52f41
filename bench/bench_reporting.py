"""Reporting benchmark: sync throughput, and the JSON annual report beside a plain SQL GROUP BY
over the raw findings, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_reporting [--backend sqlite|postgresql|both]
        [--factories 2000] [--cycles 3] [--questions 250] [--runs 5]

The report, the CP-rates endpoint and the raw GROUP BY run in turn, round after round.

Events come from a seeded generator (no other service needed) and are served by an in-process
fake source, so the sync figure includes the feed's JSON over HTTP (ASGI) as in production.
PostgreSQL: BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test); the
benchmark uses a schema of its own and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.reporting.app import create_app
from services.reporting.kept_answers import forget_kept_answers
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from tests.reporting.feedgen import CLUSTERS, FakeSource, FeedLog, fake_source_app
from tests.support import TEST_AUTH, auth_header

YEAR = 2024
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def bench_catalog(questions: int, points: int = 37) -> dict[str, Any]:
    """8 clusters, 37 CPs and ``questions`` questions; every 4th CP ends with an info question."""
    per_cluster = [
        points // len(CLUSTERS) + (1 if i < points % len(CLUSTERS) else 0)
        for i in range(len(CLUSTERS))
    ]
    per_point = [questions // points + (1 if i < questions % points else 0) for i in range(points)]
    clusters, index = [], 0
    for (code, name, category), n_points in zip(CLUSTERS, per_cluster, strict=True):
        cps = []
        for p in range(1, n_points + 1):
            cp = f"{code}-{p}"
            n = per_point[index]
            cps.append(
                {
                    "code": cp,
                    "name": f"{name} {p}",
                    "questions": [
                        {
                            "code": f"{cp}-{q}",
                            "previous_code": None,
                            "kind": "information" if index % 4 == 0 and q == n else "finding",
                        }
                        for q in range(1, n + 1)
                    ],
                }
            )
            index += 1
        clusters.append(
            {"code": code, "name": name, "category": category, "compliance_points": cps}
        )
    return {
        "id": "cat_bench",
        "country": "UZ",
        "version": "1",
        "status": "published",
        "published_at": "2022-01-01T00:00:00+00:00",
        "previous_catalog_id": None,
        "clusters": clusters,
    }


def generate(factories: int, cycles: int, questions: int, seed: int = 2024) -> FeedLog:
    rng = random.Random(seed)
    feed = FeedLog()
    catalog = feed.add("catalog.published", bench_catalog(questions))
    flat = [
        (q["code"], p["code"], c["code"], q["kind"])
        for c in catalog["clusters"]
        for p in c["compliance_points"]
        for q in p["questions"]
    ]
    for f in range(factories):
        total = rng.choice([120, 300, 700, 1500])
        feed.add(
            "factory.created",
            {
                "id": f"fac_{f:05d}",
                "name": f"factory {f}",
                "country": "UZ",
                "region": ["Toshkent", "Farg'ona", "Samarqand"][f % 3],
                "sector": "garment",
                "ownership": ["domestic", "foreign"][f % 2],
                "export_markets": [],
                "workforce_total": total,
                "workforce_women": total * 3 // 4,
                "workforce_men": total - total * 3 // 4,
                "workforce_migrants": 0,
                "participation_status": "active",
                "participation_start": "2022-01-01",
            },
        )
    n = 0
    for cycle in range(1, cycles + 1):
        for f in range(factories):
            n += 1
            day = date(YEAR - cycles + cycle, 3, 1) + timedelta(days=rng.randint(0, 270))
            risk = rng.random() * 0.3
            feed.add(
                "assessment.published",
                {
                    "id": f"asm_{n:07d}",
                    "factory_id": f"fac_{f:05d}",
                    "catalog_id": "cat_bench",
                    "cycle": cycle,
                    "status": "published",
                    "visit_type": "unannounced",
                    "visit_start": (day - timedelta(days=1)).isoformat(),
                    "visit_end": day.isoformat(),
                    "published_at": datetime.combine(day, datetime.min.time(), UTC).isoformat(),
                    "revision": 1,
                    "supersedes_id": None,
                    "country": "UZ",
                    "findings": [
                        {
                            "question_code": q,
                            "compliance_point_code": cp,
                            "cluster_code": cl,
                            "non_compliant": None if kind == "information" else rng.random() < risk,
                            "value": None,
                        }
                        for q, cp, cl, kind in flat
                    ],
                },
            )
    return feed


RAW_DDL = [
    "CREATE TABLE bench_raw_assessment (assessment_id VARCHAR(64) PRIMARY KEY, "
    "factory_id VARCHAR(64), country VARCHAR(2), day DATE, cycle INTEGER)",
    "CREATE TABLE bench_raw_finding (assessment_id VARCHAR(64), question_code VARCHAR(40), "
    "cp_code VARCHAR(40), cluster_code VARCHAR(40), non_compliant BOOLEAN)",
    "CREATE INDEX ix_bench_raw_finding_assessment ON bench_raw_finding (assessment_id)",
]

# The same methodology written directly against raw findings: latest assessment per factory in
# the year, information-only (NULL) findings dropped, a CP non-compliant if any finding is.
RAW_GROUP_BY = """
WITH latest AS (
  SELECT assessment_id FROM (
    SELECT assessment_id, ROW_NUMBER() OVER (
      PARTITION BY factory_id ORDER BY day DESC, assessment_id DESC) AS position
    FROM bench_raw_assessment
    WHERE country = 'UZ' AND day BETWEEN :start AND :end) ranked
  WHERE position = 1)
SELECT f.cp_code,
       COUNT(DISTINCT f.assessment_id) AS assessed,
       COUNT(DISTINCT CASE WHEN f.non_compliant THEN f.assessment_id END) AS non_compliant
FROM bench_raw_finding f JOIN latest l ON l.assessment_id = f.assessment_id
WHERE f.non_compliant IS NOT NULL
GROUP BY f.cp_code
"""


async def load_raw(database: Database, feed: FeedLog) -> None:
    """The raw findings as a source database would hold them (not timed)."""
    async with database.engine.begin() as conn:
        for ddl in RAW_DDL:
            await conn.execute(text(ddl))
        for event in feed.events:
            if event["event_type"] != "assessment.published":
                continue
            p = event["payload"]
            await conn.execute(
                text("INSERT INTO bench_raw_assessment VALUES (:a, :f, :c, :d, :y)"),
                {
                    "a": p["id"],
                    "f": p["factory_id"],
                    "c": p["country"],
                    "d": date.fromisoformat(p["visit_end"]),
                    "y": p["cycle"],
                },
            )
            await conn.execute(
                text("INSERT INTO bench_raw_finding VALUES (:a, :q, :cp, :cl, :nc)"),
                [
                    {
                        "a": p["id"],
                        "q": f["question_code"],
                        "cp": f["compliance_point_code"],
                        "cl": f["cluster_code"],
                        "nc": f["non_compliant"],
                    }
                    for f in p["findings"]
                ],
            )


def thread_cpu() -> dict[int, float]:
    """CPU seconds so far of each live thread of this process (aiosqlite's among them)."""
    spent = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            spent[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (AttributeError, OSError):  # not on this platform, or the thread just ended
            continue
    return spent


async def interleaved(
    runs: int, calls: dict[str, Any]
) -> dict[str, tuple[float, float, float, Any]]:
    """Each call once per round, in turn, so that a busy machine's noise falls on all alike:
    per call the median wall time, the median CPU time of this process (every thread: on
    SQLite the database's work too; on PostgreSQL the server's is not in it), the median CPU
    time of its busiest thread, the last result.

    The busiest thread is what a call's wall time comes down to on an idle machine when its
    work runs on several threads at once (the annual report reads on two SQLite connections,
    each on a thread of its own), so it is the figure to compare when other processes keep the
    cores busy and the wall times swing; the process's CPU adds the threads up instead."""
    walls: dict[str, list[float]] = {name: [] for name in calls}
    cpus: dict[str, list[float]] = {name: [] for name in calls}
    busiest: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, Any] = {}
    for _ in range(runs):
        for name, call in calls.items():
            threads = thread_cpu()
            started, cpu = time.perf_counter(), time.process_time()
            results[name] = await call()
            cpus[name].append(time.process_time() - cpu)
            walls[name].append(time.perf_counter() - started)
            after = thread_cpu()
            busiest[name].append(max(after[t] - threads.get(t, 0.0) for t in after))
    return {
        name: (
            statistics.median(walls[name]),
            statistics.median(cpus[name]),
            statistics.median(busiest[name]),
            results[name],
        )
        for name in calls
    }


async def run_backend(
    name: str, url: str, schema: str | None, feed: FeedLog, runs: int, findings: int
) -> dict[str, float]:
    await asyncio.to_thread(upgrade, "reporting", url, schema)
    database = Database(url, schema)
    try:
        transport = httpx.ASGITransport(app=fake_source_app(FakeSource(feed), TEST_AUTH))
        [reader] = make_readers(
            database,
            ReportingSettings(sync_page_size=200),
            TEST_AUTH,
            {"assessment": transport},
            sources=["assessment"],
        )
        started = time.perf_counter()
        async with reader.client:
            applied = await reader.catch_up()
        sync_seconds = time.perf_counter() - started
        assert applied == len(feed.events)

        await load_raw(database, feed)
        app = create_app(ReportingSettings(), database, TEST_AUTH)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")
        staff = auth_header("staff")

        async def kept_report() -> dict[str, Any]:
            response = await client.get(
                f"/v1/reports/annual/{YEAR}", params={"country": "UZ"}, headers=staff
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        async def report() -> dict[str, Any]:
            forget_kept_answers()  # computed, as after the sync has moved the read model
            return await kept_report()

        async def cp_rates() -> dict[str, Any]:
            forget_kept_answers()
            response = await client.get(
                "/v1/reports/non-compliance/compliance-points",
                params={"country": "UZ", "year": str(YEAR)},
                headers=staff,
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        async def raw() -> dict[str, tuple[int, int]]:
            async with database.engine.connect() as conn:
                rows = await conn.execute(
                    text(RAW_GROUP_BY), {"start": date(YEAR, 1, 1), "end": date(YEAR, 12, 31)}
                )
                return {cp: (int(n), int(nc)) for cp, n, nc in rows.all()}

        await report(), await raw()  # warm caches and pools
        measured = await interleaved(
            runs, {"report": report, "kept": kept_report, "cp": cp_rates, "raw": raw}
        )
        report_median, report_cpu, report_thread, report_body = measured["report"]
        kept_median = measured["kept"][0]
        assert measured["kept"][3] == report_body, "the kept report is not the computed one"
        cp_median, cp_cpu, _, _ = measured["cp"]
        raw_median, raw_cpu, raw_thread, raw_counts = measured["raw"]
        await client.aclose()
        served = {
            cp["compliance_point_code"]: (cp["factories_assessed"], cp["factories_non_compliant"])
            for block in report_body["non_compliance"]
            for cp in block["compliance_points"]
        }
        assert served == raw_counts, "the report and the raw GROUP BY disagree"
    finally:
        await database.dispose()
    figures = {
        "sync_seconds": sync_seconds,
        "findings_per_second": findings / sync_seconds,
        "report_median_s": report_median,
        "cp_rates_median_s": cp_median,
        "raw_group_by_median_s": raw_median,
        "ratio_report_to_raw": report_median / raw_median,
        "kept_report_median_s": kept_median,
        "ratio_report_to_raw_cpu": report_cpu / raw_cpu,
        "ratio_report_to_raw_busiest_thread": report_thread / raw_thread,
    }
    print(f"\n[{name}]")
    print(
        f"  sync: {findings:,} findings in {sync_seconds:.1f} s = "
        f"{figures['findings_per_second']:,.0f} findings/s"
    )
    print(f"  JSON annual report (all sections), median of {runs}: {report_median * 1000:.0f} ms")
    print(
        f"  the same report asked again, the read model unchanged (kept, ADR 0012), median of "
        f"{runs}: {kept_median * 1000:.1f} ms"
    )
    print(
        f"  plain SQL GROUP BY over raw findings (CP rates only), median of {runs}: "
        f"{raw_median * 1000:.0f} ms"
    )
    print(
        f"  read model CP rates endpoint (the same figures as the raw query), median of {runs}: "
        f"{cp_median * 1000:.0f} ms"
    )
    print(
        f"  ratios to the raw GROUP BY: whole report {figures['ratio_report_to_raw']:.2f}, "
        f"CP rates {cp_median / raw_median:.2f}"
    )
    print(
        f"  CPU of this process, medians: report {report_cpu * 1000:.0f} ms, CP rates "
        f"{cp_cpu * 1000:.0f} ms, raw {raw_cpu * 1000:.0f} ms; whole report / raw "
        f"{figures['ratio_report_to_raw_cpu']:.2f}"
        + (" (the server's CPU is not in these)" if name == "PostgreSQL" else "")
    )
    if name == "SQLite":
        print(
            f"  CPU of the busiest thread, medians: report {report_thread * 1000:.0f} ms, raw "
            f"{raw_thread * 1000:.0f} ms; whole report / raw "
            f"{figures['ratio_report_to_raw_busiest_thread']:.2f} (the wall time's floor with "
            "cores to spare)"
        )
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--factories", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--questions", type=int, default=250)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    feed = generate(args.factories, args.cycles, args.questions)
    findings = args.factories * args.cycles * args.questions
    print(
        f"generated {len(feed.events):,} events ({findings:,} findings) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as scratch:
            url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
            await run_backend("SQLite", url, None, feed, args.runs, findings)
    if args.backend in ("postgresql", "both"):
        schema = f"bench_reporting_{os.getpid()}"
        try:
            await run_backend("PostgreSQL", POSTGRES_URL, schema, feed, args.runs, findings)
        finally:
            engine = make_engine(POSTGRES_URL)
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
