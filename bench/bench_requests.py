"""Per-request cost at one connection: a 20-row list and the compliance-point rates against
``/health/live`` on the same process, in one run, each kind in turn, round after round, so
that the machine's noise falls on all of them alike.

    python -m bench.bench_requests [--seconds 2] [--rounds 5] [--postgres URL]

The demo holds nine factories; the bench registers more first, so that the list's page really
has 20 rows (and a next cursor). ``/health/live`` runs the same middleware, routing and access
check as any route and touches no database: a route's cost over it is what its own work
(statements, serialisation) adds.
Timed with ``wrk -t1 -c1`` (one connection, kept alive), each kind for ``--seconds`` in turn,
round after round: the p50 latency, and the CPU time the serving process spent per request,
which other work on a shared machine hardly disturbs (on PostgreSQL it leaves out the
server's own CPU). Needs Debian's ``wrk``.

Beside the platform runs ``bench/floor_app.py``: the assessment kernel on the same database
with one route that only checks the token, runs the list's one ``SELECT`` on a pooled
connection and writes the rows as JSON. Its ratio to ``/health/live`` is the least any list can
cost on this stack; the list's ratio to it is what the platform's own code adds. A second
route of it does the same with the driver's own calls instead of SQLAlchemy's execution.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.floor_app import DRIVER_FLOOR_PATH, FLOOR_PATH
from bench.processes import BENCH_SECRET, free_port, running_platform
from bw.runner import Platform
from services.common.auth import mint_token
from services.common.settings import AuthSettings

LIST = "/v1/factories?limit=20"
RATES = "/v1/reports/non-compliance/compliance-points?year=2024&country=UZ"
HEALTH = "/health/live"


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


def fill_list(base_url: str, token: str, rows: int = 21) -> None:
    """Register factories until ``LIST`` answers a full page (the demo has nine)."""
    headers = {"authorization": f"Bearer {token}"}
    have = len(httpx.get(base_url + "/v1/factories?limit=500", headers=headers).json()["items"])
    for number in range(have, rows):
        body = {"name": f"Bench factory {number:02d}", "country": "UZ", "region": "Tashkent"}
        body |= {"export_markets": ["EU", "US"], "workforce": {"total": 120, "women": 90}}
        httpx.post(base_url + "/v1/factories", headers=headers, json=body).raise_for_status()


# Reporting keeps an answer until the read model moves (ADR 0012), so asking the same rates
# again measures a kept answer. This script asks each time for another window of 2024 (336 of
# them, more than reporting keeps), so every answer is computed: the same statement as the
# year's, over another date range.
COMPUTED_RATES_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local month = 1 + (counter % 12)
  local day = 1 + (math.floor(counter / 12) % 28)
  local path = string.format(
    "/v1/reports/non-compliance/compliance-points?country=UZ&date_from=2024-01-01"
    .. "&date_to=2024-%02d-%02d", month, day)
  return wrk.format(nil, path)
end
"""


def targets(assessment: str, reporting: str, floor: str) -> dict[str, tuple[str, str, str | None]]:
    """Each kind of request: the URL, the app whose process serves it, a wrk script if any."""
    return {
        "assessment health": (assessment + HEALTH, "assessment", None),
        "factories, 20 rows": (assessment + LIST, "assessment", None),
        "floor health": (floor + HEALTH, FLOOR, None),
        "floor, 20 rows": (floor + FLOOR_PATH, FLOOR, None),
        "driver floor": (floor + DRIVER_FLOOR_PATH, FLOOR, None),
        "reporting health": (reporting + HEALTH, "reporting", None),
        "CP rates": (reporting + RATES, "reporting", None),
        "CP rates, computed": (reporting + "/", "reporting", COMPUTED_RATES_SCRIPT),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, every thread (aiosqlite's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    url: str, token: str, seconds: int, pid: int, script: str | None = None
) -> tuple[float, float]:
    """``wrk -t1 -c1`` on ``url``: median latency, and the serving process's CPU per request
    (seconds both). CPU time barely moves when other work shares the cores; latency does."""
    command = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script is not None:
            lua.write(script)
            lua.flush()
            command += ["-s", lua.name]
        cpu_before = cpu_seconds(pid)
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before
    if "Non-2xx" in output:
        raise RuntimeError(f"{url}: non-2xx answers\n{output}")
    match = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", output, re.M)
    count = re.search(r"(\d+) requests in", output)
    if match is None or count is None:
        raise RuntimeError(output)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[match.group(2)]
    return float(match.group(1)) * scale, cpu / int(count.group(1))


FLOOR = "floor"


def start_floor(platform: Platform, timeout: float = 60) -> None:
    """``bench/floor_app.py`` as one more child of the platform, with assessment's settings
    (its database), stopped with the platform."""
    platform.ports[FLOOR] = free_port()
    env = {**os.environ, **platform.env}
    platform.start_one(FLOOR, "bench.floor_app:create_app", env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(platform.url(FLOOR) + HEALTH).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the floor app did not start")


def measure(platform: Platform, token: str, seconds: int) -> dict[str, tuple[float, float]]:
    urls = targets(platform.url("assessment"), platform.url("reporting"), platform.url(FLOOR))
    return {
        kind: run_wrk(url, token, seconds, platform.processes[app].pid, script)
        for kind, (url, app, script) in urls.items()
    }


def ratios_of(row: dict[str, float]) -> tuple[float, float, float, float]:
    """The list against health, the floor against its own health, the list against the floor,
    the driver's floor against health (each health on its own process, so that both pay the
    same per-process overheads)."""
    return (
        row["factories, 20 rows"] / row["assessment health"],
        row["floor, 20 rows"] / row["floor health"],
        row["factories, 20 rows"] / row["floor, 20 rows"],
        row["driver floor"] / row["floor health"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=2, help="Per kind per round.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    rounds: list[dict[str, tuple[float, float]]] = []
    with running_platform(args.postgres, seed_demo=True) as platform:
        wait_for_rates(platform.url("reporting"), token)
        fill_list(platform.url("assessment"), token)
        start_floor(platform)
        measure(platform, token, 1)  # warm-up: caches, compiled statements, pooled connections
        rounds = [measure(platform, token, args.seconds) for _ in range(args.rounds)]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    kinds = list(rounds[0])
    for index, label in ((0, "p50 latency, ms"), (1, "CPU of the serving process per request, ms")):
        print(
            f"\n{label}: one connection (wrk -c1, {args.seconds}s per kind in turn), "
            f"{backend}, demo data"
        )
        ratio_names = ("list/health", "floor/health", "list/floor", "driver/health")
        print(
            f"{'round':<6}"
            + "".join(f"{k:>20}" for k in kinds)
            + "".join(f"{n:>15}" for n in ratio_names)
        )
        table = [{k: r[k][index] * 1000 for k in kinds} for r in rounds]
        ratios = [ratios_of(t) for t in table]
        for number, (row, ratio) in enumerate(zip(table, ratios, strict=True), 1):
            print(
                f"{number:<6}"
                + "".join(f"{row[k]:>20.3f}" for k in kinds)
                + "".join(f"{r:>15.2f}" for r in ratio)
            )
        overall = {k: statistics.median(t[k] for t in table) for k in kinds}
        medians = [statistics.median(r[i] for r in ratios) for i in range(len(ratio_names))]
        print(
            f"{'median':<6}"
            + "".join(f"{overall[k]:>20.3f}" for k in kinds)
            + "".join(f"{r:>15.2f}" for r in medians)
        )
        print(
            f"list / health = {medians[0]:.2f} (target <= 4); the stack's floor (token, one "
            f"SELECT, rows as JSON) / its health = {medians[1]:.2f}, list / floor = "
            f"{medians[2]:.2f}; without SQLAlchemy (the driver's calls) / health = "
            f"{medians[3]:.2f}; CP rates "
            f"{overall['CP rates']:.2f} ms (target <= 3 ms p50), "
            f"{overall['CP rates'] / overall['reporting health']:.1f}x reporting's health "
            f"(kept answers; computed each time: {overall['CP rates, computed']:.2f} ms)"
        )


if __name__ == "__main__":
    main()
