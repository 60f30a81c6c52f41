"""A bounded load run: 200 concurrent clients through the gateway doing a realistic mix of
reads, finding submissions and report requests, on the demo data.

    python -m bench.bench_load [--clients 200] [--seconds 20] [--postgres URL]
                               [--generator lean|httpx] [--py-spy NAME --py-spy-out FILE]

Prints error counts and p50/p99 latency per kind of request and per path, throughput, the
machine's load average before and after, the CPU seconds each process spent in the timed
window (every platform process, the load generator itself, and on PostgreSQL the server's
processes, which other work on the machine also feeds) with its CPU per request, and the peak
resident memory of each process. CPU per request says where the time goes: at N req/s on
two cores, the whole platform can spend at most 2/N seconds of CPU on a request.
The load generator shares the machine's cores with the platform, so what it spends is taken
from the platform: httpx's pooled client cost about 9 ms of CPU per request at 200 clients,
more than any platform process, and its own event loop became the queue the clients waited
in. The default generator (``lean``) gives each client one kept-alive connection through the
gateway's own HTTP/1.1 client (httptools, no pool) on uvloop, a small fraction of that cost;
``--generator httpx`` is the old one, for comparison. Either way each client picks a kind of
request at random for every request, so the mix holds whatever each kind's latency.
``--py-spy gateway`` (or a service's name) records a raw py-spy profile of that process
during the timed window. Loopback only; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvloop

from bench.bench_requests import cpu_seconds
from bench.processes import BENCH_SECRET, running_platform
from gateway.upstream_http import Http1Transport
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
FINDING_PATH = "PUT /v1/assessments/{id}/findings/{code}"
GENERATOR = "load generator"
POSTGRES = "postgres server"

Samples = dict[str, list[float]]
Send = Callable[[str, str, bytes | None], Awaitable[int]]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def postgres_pids() -> list[int]:
    """Every process named ``postgres`` on the machine (the server's backends and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_of(pids: list[int]) -> dict[int, float]:
    times = {}
    for pid in pids:
        try:
            times[pid] = cpu_seconds(pid)
        except OSError:  # a backend that ended
            continue
    return times


def main_thread_cpu(pid: int) -> float:
    """User + system CPU of a process's main thread alone (its event loop): the rest of the
    process's CPU is its other threads' (aiosqlite's, one per pooled SQLite connection)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """CPU seconds spent by each process, and by its main thread, between :meth:`start` and
    :meth:`stop`."""

    def __init__(self, processes: dict[str, int], postgres: bool) -> None:
        self.processes = {**processes, GENERATOR: os.getpid()}
        self.postgres = postgres
        self.spent: dict[str, float] = {}
        self.main_thread: dict[str, float] = {}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        shot = {name: cpu_of([pid]) for name, pid in self.processes.items()}
        if self.postgres:
            shot[POSTGRES] = cpu_of(postgres_pids())
        return shot

    def _main_threads(self) -> dict[str, float]:
        return {name: main_thread_cpu(pid) for name, pid in self.processes.items()}

    def start(self) -> None:
        self.before = self._snapshot()
        self.main_before = self._main_threads()

    def stop(self) -> None:
        after = self._snapshot()
        main_after = self._main_threads()
        self.main_thread = {n: t - self.main_before[n] for n, t in main_after.items()}
        for name, times in after.items():
            # A backend started during the window counts from zero; one that ended is lost.
            earlier = self.before.get(name, {})
            self.spent[name] = sum(t - earlier.get(pid, 0.0) for pid, t in times.items())


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


def httpx_sender(client: httpx.AsyncClient) -> Send:
    """Requests through the shared httpx client (its pool holds every client's connection)."""

    async def send(method: str, path: str, body: bytes | None) -> int:
        headers = {"if-match": "*", "content-type": "application/json"} if body else None
        response = await client.request(method, path, content=body, headers=headers)
        return response.status_code

    return send


def lean_sender(base_url: str, token: str) -> Send:
    """Requests over one kept-alive connection of this client's own (a new one if the server
    closed it), written and parsed by the gateway's lean HTTP/1.1 client."""
    transport = Http1Transport(max_idle=1)
    url = httpx.URL(base_url)
    common = [(b"host", f"{url.host}:{url.port}".encode()), (b"authorization", token.encode())]

    async def send(method: str, path: str, body: bytes | None) -> int:
        headers = common
        if body is not None:
            headers = [*common, (b"content-type", b"application/json"), (b"if-match", b"*")]
            headers.append((b"content-length", str(len(body)).encode()))
        answer = await transport.exchange(
            url,
            method,
            path.encode(),
            headers,
            body,
            replay=False,
            connect_timeout=60,
            read_timeout=60,
        )
        try:
            await answer.read()
        finally:
            await answer.aclose()
        return answer.status

    return send


async def client_loop(
    send: Send,
    deadline: float,
    rng: random.Random,
    assessments: list[str],
    codes: list[str],
    latencies: Samples,
    errors: dict[str, int],
) -> None:
    kinds, weights = zip(*MIX, strict=True)
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        started = time.perf_counter()
        try:
            if kind == "read":
                label = rng.choice(READ_PATHS)
                status = await send("GET", label, None)
            elif kind == "report":
                label = rng.choice(REPORT_PATHS)
                status = await send("GET", label, None)
            else:
                label = FINDING_PATH
                path = f"/v1/assessments/{rng.choice(assessments)}/findings/{rng.choice(codes)}"
                # If-Match "*": 200 random writers would mostly measure 412s, not writes.
                body = b'{"non_compliant": %s}' % (b"true" if rng.random() < 0.3 else b"false")
                status = await send("PUT", path, body)
            ok = status < 400
        except httpx.HTTPError:
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        latencies[kind].append(elapsed)
        latencies[label].append(elapsed)
        if not ok:
            errors[kind] += 1
            errors[label] += 1


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def print_latencies(latencies: Samples, errors: dict[str, int], labels: list[str]) -> None:
    width = max(len(label) for label in labels)
    print(f"{'':<{width}} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for label in labels:
        values = sorted(latencies[label])
        if values:
            print(
                f"{label:<{width}} {len(values):>9} {errors[label]:>7} "
                f"{statistics.median(values):>8.1f} {percentile(values, 0.99):>8.1f}"
            )


def print_cpu(window: CpuWindow, elapsed: float, total: int) -> None:
    print(f"\nCPU in the timed window ({elapsed:.1f}s, {total} requests):")
    print(f"{'process':<16} {'CPU s':>7} {'cores':>6} {'ms/request':>11} {'main thread':>12}")
    for name, spent in window.spent.items():
        main = window.main_thread.get(name)
        share = f"{main / spent:>11.0%}" if main is not None and spent else ""
        print(
            f"{name:<16} {spent:>7.2f} {spent / elapsed:>6.2f} "
            f"{spent * 1000 / total:>11.2f} {share:>12}"
        )
    everything = sum(window.spent.values())
    print(
        f"{'all':<16} {everything:>7.2f} {everything / elapsed:>6.2f} "
        f"{everything * 1000 / total:>11.2f}"
    )


def start_py_spy(pid: int, out: str, seconds: float) -> subprocess.Popen[bytes]:
    spy = Path(sys.executable).parent / "py-spy"  # installed beside the interpreter
    command = [str(spy), "record", "-p", str(pid), "-f", "raw", "-o", out]
    command += ["-d", str(int(seconds)), "-r", "100", "--threads", "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--generator", choices=("lean", "httpx"), default="lean")
    parser.add_argument("--py-spy", default=None, help="Profile this process (gateway, ...).")
    parser.add_argument("--py-spy-out", default="load-profile.txt")
    args = parser.parse_args()
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    limits = {"GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
    with running_platform(args.postgres, extra_env=limits, seed_demo=True) as platform:
        latencies: Samples = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        peak: dict[str, int] = defaultdict(int)
        pids = {name: process.pid for name, process in platform.processes.items()}
        window = CpuWindow(pids, postgres=bool(args.postgres))
        loads: list[float] = []

        async def run() -> float:
            limits_ = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(
                base_url=platform.url("gateway"),
                timeout=60,
                limits=limits_,
                headers={"authorization": f"Bearer {token}"},
            ) as client:
                assessments, codes = await prepare(client)
                bearer = f"Bearer {token}"
                senders = [
                    httpx_sender(client)
                    if args.generator == "httpx"
                    else lean_sender(platform.url("gateway"), bearer)
                    for _ in range(args.clients)
                ]
                rng = random.Random(7)
                spy = None
                if args.py_spy:
                    spy = start_py_spy(pids[args.py_spy], args.py_spy_out, args.seconds)
                loads.append(os.getloadavg()[0])
                deadline = time.monotonic() + args.seconds

                async def sample_memory() -> None:
                    while time.monotonic() < deadline:
                        for name, pid in pids.items():
                            peak[name] = max(peak[name], rss_kib(pid))
                        await asyncio.sleep(0.5)

                started = time.monotonic()
                window.start()
                await asyncio.gather(
                    sample_memory(),
                    *(
                        client_loop(
                            senders[number],
                            deadline,
                            random.Random(rng.random()),
                            assessments,
                            codes,
                            latencies,
                            errors,
                        )
                        for number in range(args.clients)
                    ),
                )
                window.stop()
                loads.append(os.getloadavg()[0])
                if spy is not None:
                    spy.wait()
                return time.monotonic() - started

        # The old generator as it was (asyncio's own loop); the lean one on uvloop.
        loop_factory = uvloop.new_event_loop if args.generator == "lean" else None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            elapsed = runner.run(run())
    backend = "PostgreSQL" if args.postgres else "SQLite"
    kinds = [kind for kind, _ in MIX]
    total = sum(len(latencies[kind]) for kind in kinds)
    print(
        f"\nLoad: {args.clients} concurrent clients for {elapsed:.0f}s through the gateway, "
        f"{backend}, one process per app, {args.generator} generator; "
        f"load average {loads[0]:.1f} before, {loads[1]:.1f} after"
    )
    print_latencies(latencies, errors, kinds)
    print(
        f"throughput {total / elapsed:.0f} req/s; "
        f"errors {sum(errors[kind] for kind in kinds)} of {total}\n"
    )
    print_latencies(latencies, errors, [*READ_PATHS, FINDING_PATH, *REPORT_PATHS])
    print_cpu(window, elapsed, total)
    print("peak RSS: " + ", ".join(f"{name} {kib / 1024:.0f} MiB" for name, kib in peak.items()))


if __name__ == "__main__":
    main()
