"""`make bench`: every benchmark in one go, each printing its own figures side by side.

    python -m bench [--quick] [--postgres URL]

PostgreSQL runs are added when a URL is given (or BENCH_POSTGRES_URL is set). The gateway
benchmark needs Debian's nginx and wrk and is skipped, with a note, when they are missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time


def run(title: str, *args: str) -> None:
    print(f"\n=== {title}: python -m {' '.join(args)}", flush=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", *args], check=False)
    print(f"--- {title}: exit {result.returncode} after {time.monotonic() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Smaller sizes and shorter runs.")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    postgres = ["--database-url", args.postgres] if args.postgres else []
    if args.postgres:
        os.environ["BENCH_POSTGRES_URL"] = args.postgres
    run("bulk findings (SQLite)", "bench.bench_findings")
    if postgres:
        run("bulk findings (PostgreSQL)", "bench.bench_findings", *postgres)
    run("attendance uploads", "bench.bench_training")
    if shutil.which("wrk"):
        rounds = ["--rounds", "3" if args.quick else "5"]
        run("per-request cost (SQLite)", "bench.bench_requests", *rounds)
        if args.postgres:
            run(
                "per-request cost (PostgreSQL)",
                "bench.bench_requests",
                *rounds,
                "--postgres",
                args.postgres,
            )
    factories = "300" if args.quick else "2000"
    backend = "both" if args.postgres else "sqlite"
    run("reporting", "bench.bench_reporting", "--factories", factories, "--backend", backend)
    run("webhooks (SQLite)", "bench.bench_webhooks", "--runs", "3" if args.quick else "5")
    run(
        "documents beside other requests",
        "bench.bench_documents",
        "--seconds",
        "5" if args.quick else "10",
    )
    if shutil.which("nginx") and shutil.which("wrk"):
        run("gateway overhead", "bench.bench_gateway", "--seconds", "4" if args.quick else "8")
    else:
        print("\n(gateway overhead skipped: apt-get install nginx-light wrk)")
    seconds = "8" if args.quick else "20"
    run("load (SQLite)", "bench.bench_load", "--seconds", seconds)
    if args.postgres:
        run(
            "load (PostgreSQL)",
            "bench.bench_load",
            "--seconds",
            seconds,
            "--postgres",
            args.postgres,
        )
        rounds = "3" if args.quick else "5"
        run(
            "replicas (PostgreSQL)",
            "bench.bench_replicas",
            "--postgres",
            args.postgres,
            "--rounds",
            rounds,
        )


if __name__ == "__main__":
    main()
