"""How long other reporting requests wait while annual-report PDFs are being made.

    python -m bench.bench_documents [--seconds 10] [--postgres URL]

One client asks for a published edition of the annual report as a PDF again and again (a
published edition is rendered on every request: nothing keeps documents), while another asks
reporting's cheapest real route, ``/v1/reports/freshness``, one request after the other. The
same prober also runs alone first. Printed: the PDFs made, and the prober's requests, p50,
p99 and longest wait, alone and beside the PDFs. On the event loop, a PDF held every other
request of the process for as long as it took to lay out.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from bench.bench_requests import wait_for_rates
from bench.processes import BENCH_SECRET, running_platform
from services.common.auth import mint_token
from services.common.settings import AuthSettings

YEAR = 2024
FRESHNESS = "/v1/reports/freshness"


async def probe(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    waits = []
    while not stop.is_set():
        started = time.perf_counter()
        (await client.get(FRESHNESS)).raise_for_status()
        waits.append(time.perf_counter() - started)
    return waits


async def make_pdfs(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> list[float]:
    took = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get(url, params={"format": "pdf"})
        response.raise_for_status()
        assert response.content.startswith(b"%PDF-")
        took.append(time.perf_counter() - started)
    return took


async def window(
    base_url: str, token: str, seconds: float, pdf_url: str | None
) -> tuple[list[float], list[float]]:
    headers = {"authorization": f"Bearer {token}"}
    stop = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as prober,
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as maker,
    ):
        tasks = [asyncio.create_task(probe(prober, stop))]
        if pdf_url:
            tasks.append(asyncio.create_task(make_pdfs(maker, pdf_url, stop)))
        await asyncio.sleep(seconds)
        stop.set()
        results = await asyncio.gather(*tasks)
    return results[0], (results[1] if pdf_url else [])


def summary(waits: list[float]) -> str:
    ms = sorted(w * 1000 for w in waits)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{len(ms):>6} requests, p50 {statistics.median(ms):7.2f} ms, p99 {p99:8.2f} ms, "
        f"longest {ms[-1]:8.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="Per window.")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    with running_platform(args.postgres, seed_demo=True) as platform:
        base_url = platform.url("reporting")
        wait_for_rates(base_url, token)
        published = httpx.post(
            f"{base_url}/v1/reports/annual/{YEAR}/publications",
            params={"country": "UZ"},
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        published.raise_for_status()
        pdf_url = published.headers["location"]
        asyncio.run(window(base_url, token, 2, pdf_url))  # warm-up: fonts, templates, pools
        alone, _ = asyncio.run(window(base_url, token, args.seconds, None))
        beside, pdfs = asyncio.run(window(base_url, token, args.seconds, pdf_url))
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nReporting, {backend}, demo data, {args.seconds:.0f} s per window")
    print(f"PDFs made beside the prober: {len(pdfs)}, p50 {statistics.median(pdfs) * 1000:.0f} ms")
    print(f"{FRESHNESS} alone:          {summary(alone)}")
    print(f"{FRESHNESS} beside the PDFs: {summary(beside)}")


if __name__ == "__main__":
    main()
