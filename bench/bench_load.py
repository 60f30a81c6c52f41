"""A bounded load run: 200 concurrent clients through the gateway doing a realistic mix of
reads, finding submissions and report requests, on the demo data.

    python -m bench.bench_load [--clients 200] [--seconds 20] [--postgres URL]

Prints error counts, p50/p99 latency per kind of request, throughput, and the peak resident
memory of each process. Loopback only; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.processes import BENCH_SECRET, running_platform
from services.common.auth import mint_token
from services.common.settings import AuthSettings

MIX = [("read", 0.6), ("finding", 0.2), ("report", 0.2)]
READ_PATHS = [
    "/v1/factories?limit=20",
    "/v1/assessments?limit=20",
    "/v1/courses",
    "/v1/training-sessions?limit=20",
    "/v1/catalogs",
]
REPORT_PATHS = [
    "/v1/reports/non-compliance/compliance-points?year=2024&country=UZ",
    "/v1/reports/non-compliance/clusters?year=2024&country=UZ",
    "/v1/reports/annual/2024?country=UZ",
]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def prepare(client: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    """In-progress assessments to submit findings to, and the catalogue's question codes."""
    catalog = (await client.get("/v1/catalogs")).json()["items"][0]
    detail = (await client.get(f"/v1/catalogs/{catalog['id']}")).json()
    codes = [
        q["code"]
        for cluster in detail["clusters"]
        for point in cluster["compliance_points"]
        for q in point["questions"]
        if q.get("kind", "finding") == "finding"
    ]
    factories = (await client.get("/v1/factories?limit=50")).json()["items"]
    assessments = []
    for factory in factories:
        created = await client.post(
            "/v1/assessments",
            json={
                "factory_id": factory["id"],
                "catalog_id": catalog["id"],
                "visit_start": "2025-03-03",
                "visit_end": "2025-03-04",
            },
        )
        created.raise_for_status()
        moved = await client.post(
            f"/v1/assessments/{created.json()['id']}/transitions",
            json={"to": "in_progress"},
            headers={"if-match": created.headers["etag"]},
        )
        moved.raise_for_status()
        assessments.append(created.json()["id"])
    return assessments, codes


async def client_loop(
    client: httpx.AsyncClient,
    deadline: float,
    rng: random.Random,
    assessments: list[str],
    codes: list[str],
    latencies: dict[str, list[float]],
    errors: dict[str, int],
) -> None:
    kinds, weights = zip(*MIX, strict=True)
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        started = time.perf_counter()
        try:
            if kind == "read":
                response = await client.get(rng.choice(READ_PATHS))
            elif kind == "report":
                response = await client.get(rng.choice(REPORT_PATHS))
            else:
                path = f"/v1/assessments/{rng.choice(assessments)}/findings/{rng.choice(codes)}"
                # If-Match "*": 200 random writers would mostly measure 412s, not writes.
                response = await client.put(
                    path, json={"non_compliant": rng.random() < 0.3}, headers={"if-match": "*"}
                )
            ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        latencies[kind].append((time.perf_counter() - started) * 1000)
        if not ok:
            errors[kind] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    limits = {"GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
    with running_platform(args.postgres, extra_env=limits, seed_demo=True) as platform:
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        peak: dict[str, int] = defaultdict(int)

        async def run() -> float:
            limits_ = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(
                base_url=platform.url("gateway"),
                timeout=60,
                limits=limits_,
                headers={"authorization": f"Bearer {token}"},
            ) as client:
                assessments, codes = await prepare(client)
                deadline = time.monotonic() + args.seconds
                rng = random.Random(7)

                async def sample_memory() -> None:
                    while time.monotonic() < deadline:
                        for name, process in platform.processes.items():
                            peak[name] = max(peak[name], rss_kib(process.pid))
                        await asyncio.sleep(0.5)

                started = time.monotonic()
                await asyncio.gather(
                    sample_memory(),
                    *(
                        client_loop(
                            client,
                            deadline,
                            random.Random(rng.random()),
                            assessments,
                            codes,
                            latencies,
                            errors,
                        )
                        for _ in range(args.clients)
                    ),
                )
                return time.monotonic() - started

        elapsed = asyncio.run(run())
    backend = "PostgreSQL" if args.postgres else "SQLite"
    total = sum(len(v) for v in latencies.values())
    print(
        f"\nLoad: {args.clients} concurrent clients for {elapsed:.0f}s through the gateway, "
        f"{backend}, one process per app"
    )
    print(f"{'kind':<8} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, _ in MIX:
        values = sorted(latencies[kind])
        if not values:
            continue
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"{kind:<8} {len(values):>9} {errors[kind]:>7} "
            f"{statistics.median(values):>8.1f} {p99:>8.1f}"
        )
    print(f"throughput {total / elapsed:.0f} req/s; errors {sum(errors.values())} of {total}")
    print("peak RSS: " + ", ".join(f"{name} {kib / 1024:.0f} MiB" for name, kib in peak.items()))


if __name__ == "__main__":
    main()
