"""Per-request cost at one connection: a 20-row list and the compliance-point rates against
``/health/live`` on the same process, in one run, interleaved request by request so that the
machine's noise falls on all of them alike.

    python -m bench.bench_requests [--seconds 2] [--rounds 5] [--postgres URL]

``/health/live`` runs the same middleware, routing and access check as any route and touches
no database: a route's cost over it is what its own work (statements, serialisation) adds.
Timed with ``wrk -t1 -c1`` (one connection, kept alive), each kind for ``--seconds`` in turn,
round after round, p50 per run; without wrk, with a plain keep-alive socket client in Python,
request by request (its own cost, some 0.1 ms, then weighs on the health figure most).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import time
from collections import defaultdict
from urllib.parse import urlsplit

import httpx

from bench.processes import BENCH_SECRET, running_platform
from services.common.auth import mint_token
from services.common.settings import AuthSettings

LIST = "/v1/factories?limit=20"
RATES = "/v1/reports/non-compliance/compliance-points?year=2024&country=UZ"
HEALTH = "/health/live"


class KeepAlive:
    """One HTTP/1.1 connection, like ``wrk -c1``: no connection set-up in what is timed."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.sock = socket.create_connection((self.host, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.token = token

    def get(self, path: str) -> float:
        """Seconds from sending the request to the last byte of the response."""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        self.sock.sendall(request)
        status = self.file.readline()
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.file.read(length)
        elapsed = time.perf_counter() - started
        if b" 200 " not in status:
            raise RuntimeError(f"{path}: {status!r}")
        return elapsed

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def wait_for_rates(base_url: str, token: str, timeout: float = 60) -> None:
    """Reporting fills its read model from the feeds after start: wait until it has figures."""
    deadline = time.monotonic() + timeout
    headers = {"authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        response = httpx.get(base_url + RATES, headers=headers)
        if response.status_code == 200 and response.json()["items"]:
            return
        time.sleep(0.5)
    raise TimeoutError("reporting has no compliance-point rates yet")


def targets(assessment: str, reporting: str) -> dict[str, str]:
    return {
        "assessment health": assessment + HEALTH,
        "factories, 20 rows": assessment + LIST,
        "reporting health": reporting + HEALTH,
        "CP rates": reporting + RATES,
    }


def wrk_p50(url: str, token: str, seconds: int) -> float:
    """Median latency in seconds of ``wrk -t1 -c1`` on ``url``; fails on any non-2xx."""
    command = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"{url}: non-2xx answers\n{output}")
    match = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", output, re.M)
    if match is None:
        raise RuntimeError(output)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[match.group(2)]
    return float(match.group(1)) * scale


def measure_wrk(
    assessment: str, reporting: str, token: str, seconds: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = defaultdict(list)
    for kind, url in targets(assessment, reporting).items():
        timings[kind].append(wrk_p50(url, token, seconds))
    return timings


def measure_socket(
    assessment: str, reporting: str, token: str, requests: int
) -> dict[str, list[float]]:
    """Each iteration times one request of every kind, in turn, on two kept-alive connections."""
    direct = KeepAlive(assessment, token)
    report = KeepAlive(reporting, token)
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(30):  # warm-up: caches, compiled statements, the pool's connections
            direct.get(HEALTH), direct.get(LIST), report.get(HEALTH), report.get(RATES)
        for _ in range(requests):
            timings["assessment health"].append(direct.get(HEALTH))
            timings["factories, 20 rows"].append(direct.get(LIST))
            timings["reporting health"].append(report.get(HEALTH))
            timings["CP rates"].append(report.get(RATES))
    finally:
        direct.close()
        report.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=2, help="Per kind per round (wrk).")
    parser.add_argument("--requests", type=int, default=400, help="Per kind per round (no wrk).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    rounds: list[dict[str, float]] = []
    with running_platform(args.postgres, seed_demo=True) as platform:
        assessment, reporting = platform.url("assessment"), platform.url("reporting")
        wait_for_rates(reporting, token)
        use_wrk = shutil.which("wrk") is not None
        if use_wrk:  # warm-up: caches, compiled statements, the pool's connections
            measure_wrk(assessment, reporting, token, 1)
        for _ in range(args.rounds):
            if use_wrk:
                timings = measure_wrk(assessment, reporting, token, args.seconds)
            else:
                timings = measure_socket(assessment, reporting, token, args.requests)
            rounds.append({kind: statistics.median(v) * 1000 for kind, v in timings.items()})
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\nPer request at one connection, {backend}, demo data, p50 ms per round, "
        + (f"wrk -c1, {args.seconds:g}s per kind" if use_wrk else "socket client, interleaved")
    )
    kinds = list(rounds[0])
    print(f"{'round':<6}" + "".join(f"{k:>20}" for k in kinds) + f"{'list/health':>13}")
    ratios = []
    for number, medians in enumerate(rounds, 1):
        ratio = medians["factories, 20 rows"] / medians["assessment health"]
        ratios.append(ratio)
        print(f"{number:<6}" + "".join(f"{medians[k]:>20.3f}" for k in kinds) + f"{ratio:>13.2f}")
    overall = {k: statistics.median(r[k] for r in rounds) for k in kinds}
    print(f"{'median':<6}" + "".join(f"{overall[k]:>20.3f}" for k in kinds), end="")
    print(f"{statistics.median(ratios):>13.2f}")
    rates_over_health = overall["CP rates"] / overall["reporting health"]
    print(
        f"list / health = {statistics.median(ratios):.2f} (target <= 4); "
        f"CP rates p50 = {overall['CP rates']:.2f} ms (target <= 3), "
        f"{rates_over_health:.1f}x reporting's health"
    )


if __name__ == "__main__":
    main()
