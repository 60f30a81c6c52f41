"""Write throughput of one assessment replica against two, on PostgreSQL, in one run.

    python -m bench.bench_replicas --postgres URL [--seconds 6] [--rounds 3] [--connections 16]

One platform runs two assessment replicas on one database. Each round, ``POST /v1/factories``
(a create: a row and its outbox event in one transaction) is driven with wrk for ``--seconds``
first at replica 1 alone with ``--connections``, then at both replicas at once with half the
connections each, so the same number of clients meets one process or two. Meanwhile a sampler
counts the sessions waiting for an advisory lock and the active ones (``pg_locks``,
``pg_stat_activity``, every 20 ms): the outbox's advisory lock capped a service's writers (the
second replica's requests queued on it instead of adding throughput) until the feed was
ordered by transaction id (ADR 0011); since then none waits. Prints medians of the rounds and
the two-to-one ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

from bench.bench_gateway import POST_LUA, run_wrk
from bench.processes import BENCH_SECRET, SERVICES, bench_env, free_port
from bw.runner import Platform
from services.common.auth import mint_token
from services.common.db import make_engine
from services.common.settings import AuthSettings

WAITING = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
ACTIVE = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = $1"


class LockSampler:
    """Counts, every ``interval`` seconds, the sessions queued on an advisory lock."""

    def __init__(self, dsn: str, database: str, interval: float = 0.02) -> None:
        self.dsn = dsn
        self.database = database
        self.interval = interval
        self.samples: list[int] = []
        self.active: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                self.samples.append(int(await connection.fetchval(WAITING)))
                self.active.append(int(await connection.fetchval(ACTIVE, self.database)))
                await asyncio.sleep(self.interval)
        finally:
            await connection.close()

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        n = max(1, len(self.samples))
        return {
            "waiting_mean": sum(self.samples) / n,
            "waiting_share": sum(1 for s in self.samples if s) / n,
            "active_mean": sum(self.active) / max(1, len(self.active)),
        }


@contextmanager
def two_replicas(database_url: str) -> Iterator[tuple[Platform, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as scratch:
        env = bench_env(Path(scratch) / "var", database_url)
        # The gateway's per-caller limit is not what is measured here.
        env["GATEWAY_RATE_LIMIT_PER_MINUTE"] = "100000000"
        env["GATEWAY_RATE_LIMIT_BURST"] = "1000000"
        for service in SERVICES:  # an access-log line per request would cost the run itself
            env[f"{service.upper()}_LOG_LEVEL"] = "WARNING"
        subprocess.run(
            [sys.executable, "-m", "bw.main", "migrate"], env=env, check=True, capture_output=True
        )
        names = [*SERVICES, *(f"{s}-2" for s in SERVICES), "gateway"]
        ports = {name: free_port() for name in names}
        platform = Platform(host="127.0.0.1", ports=ports, env=env, replicas=2)
        platform.start()
        try:
            platform.wait_ready(timeout=90)
            yield platform, env
        finally:
            platform.stop()
            asyncio.run(_drop([env[f"{s.upper()}_DB_SCHEMA"] for s in SERVICES], database_url))


async def _drop(schemas: list[str], url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    async with engine.begin() as conn:
        for schema in schemas:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def wrk_at_once(
    urls: list[str], token: str, seconds: int, connections: int, script: Path
) -> dict[str, float]:
    """wrk against every URL at the same time; requests per second summed, p50 the worst."""
    figures: list[dict[str, float]] = [{} for _ in urls]

    def one(i: int, url: str) -> None:
        figures[i] = run_wrk(url, token, seconds, connections, script)

    threads = [threading.Thread(target=one, args=(i, u)) for i, u in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "rps": sum(f["rps"] for f in figures),
        "p50": max(f["50%"] for f in figures),
        "errors": sum(f["errors"] for f in figures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", required=True, help="postgresql+asyncpg://... URL")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    dsn = args.postgres.replace("postgresql+asyncpg://", "postgresql://")
    database = dsn.rsplit("/", 1)[-1].split("?")[0]
    results: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
    with two_replicas(args.postgres) as (platform, _env), tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(POST_LUA)
        urls = [platform.url("assessment") + "/v1/factories"]
        urls.append(platform.url("assessment-2") + "/v1/factories")
        for url in urls:  # both answer, and are warm
            httpx.get(url, headers={"authorization": f"Bearer {token}"}).raise_for_status()
        half = max(1, args.connections // 2)
        for _ in range(args.rounds):
            for kind, targets, per in (("one", urls[:1], args.connections), ("two", urls, half)):
                with LockSampler(dsn, database) as sampler:
                    figures = wrk_at_once(targets, token, args.seconds, per, script)
                results[kind].append({**figures, **sampler.summary()})
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    print(
        f"\nPOST /v1/factories on PostgreSQL, {args.connections} connections in all, "
        f"{args.seconds}s per run, medians of {args.rounds} rounds"
    )
    print(
        f"{'':<14}{'req/s':>9}{'p50 ms':>9}{'errors':>8}"
        f"{'lock waiters':>14}{'% lock queued':>15}{'active':>8}"
    )
    for kind, label in (("one", "1 replica"), ("two", "2 replicas")):
        print(
            f"{label:<14}{median(kind, 'rps'):>9.0f}{median(kind, 'p50'):>9.1f}"
            f"{median(kind, 'errors'):>8.0f}{median(kind, 'waiting_mean'):>14.2f}"
            f"{100 * median(kind, 'waiting_share'):>14.0f}%{median(kind, 'active_mean'):>8.1f}"
        )
    print(f"two / one: {median('two', 'rps') / median('one', 'rps'):.2f}")
    for kind in ("one", "two"):
        print(f"  {kind} per round: " + ", ".join(f"{r['rps']:.0f}" for r in results[kind]))


if __name__ == "__main__":
    main()
