"""Gateway overhead: the same reads and writes sent straight to a service, through nginx as a
reverse proxy, and through the gateway, in one run (wrk on loopback, bounded duration).

    python -m bench.bench_gateway [--seconds 8] [--connections 32] [--rounds 3]

Each round measures p50 latency at one kept-alive connection, the three targets interleaved
request by request (what the gateway adds to a single client's request, and its CPU per
request), then throughput at ``--connections``; ratios are per round, then their median.

Needs Debian's `nginx` and `wrk` (apt-get install nginx-light wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.processes import BENCH_SECRET, free_port, running_platform
from services.common.auth import mint_token
from services.common.settings import AuthSettings

NGINX_CONF = """
worker_processes 1;
daemon off;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream service {{ server 127.0.0.1:{service_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 5m;
    location / {{
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""

POST_LUA = """
wrk.method = "POST"
wrk.body = '{"name": "Bench Tekstil", "country": "UZ", "region": "Tashkent"}'
wrk.headers["Content-Type"] = "application/json"
"""


def run_wrk(
    url: str, token: str, seconds: int, connections: int, script: Path | None
) -> dict[str, float]:
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for label in ("50%", "99%"):
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)", output, re.M)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        result[label] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


Results = dict[tuple[str, str], list[dict[str, float]]]


class KeepAlive:
    """One HTTP/1.1 connection kept alive: no connection set-up in what is timed."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.sock = socket.create_connection((self.host, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.token = token

    def get(self, path: str) -> float:
        """Seconds from sending the request to the last byte of a 200 answer."""
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_connection(
    targets: dict[str, str], token: str, requests: int, gateway_pid: int
) -> dict[str, float]:
    """p50 at one kept-alive connection per target, interleaved request by request so that the
    machine's noise falls on all three alike; and the gateway's CPU per request meanwhile."""
    clients = {name: KeepAlive(base, token) for name, base in targets.items()}
    timings: dict[str, list[float]] = {name: [] for name in targets}
    cpu_before = cpu_seconds(gateway_pid)
    for _ in range(requests):
        for name, client in clients.items():
            timings[name].append(client.get("/v1/factories?limit=20"))
    gateway_cpu = (cpu_seconds(gateway_pid) - cpu_before) / requests
    figures = {f"c1_{name}": statistics.median(t) * 1000 for name, t in timings.items()}
    figures["gateway_cpu_us"] = gateway_cpu * 1e6
    # The machine is shared: the 1-minute load average says how much the round competed with.
    figures["load"] = os.getloadavg()[0]
    return figures


def measure_round(
    targets: dict[str, str], token: str, seconds: int, connections: int, post_script: Path
) -> dict[tuple[str, str], dict[str, float]]:
    """One round: throughput of reads then writes at ``connections``, the three targets back
    to back so the machine's state is about the same for each."""
    figures: dict[tuple[str, str], dict[str, float]] = {}
    for kind, path, script in (
        ("read", "/v1/factories?limit=20", None),
        ("write", "/v1/factories", post_script),
    ):
        for name, base in targets.items():
            figures[(kind, name)] = run_wrk(base + path, token, seconds, connections, script)
    return figures


def report(
    results: Results, latency: list[dict[str, float]], seconds: int, connections: int
) -> None:
    rounds = len(next(iter(results.values())))
    print(
        f"\nGateway overhead, {rounds} rounds, {seconds}s per run, {connections} connections, "
        "1 worker each, SQLite"
    )
    print(f"{'request':<7} {'path':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for (kind, name), runs in results.items():
        for r in runs:
            print(
                f"{kind:<7} {name:<8} {r['rps']:>9.0f} {r['50%']:>8.2f} {r['99%']:>8.2f}"
                + (f"  non-2xx {r['errors']:.0f}" if r["errors"] else "")
            )
    for kind in ("read", "write"):
        ratios = [
            g["rps"] / n["rps"]
            for g, n in zip(results[(kind, "gateway")], results[(kind, "nginx")], strict=True)
        ]
        print(
            f"{kind}: gateway/nginx throughput per round "
            f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})"
        )
    print("one connection, GET /v1/factories?limit=20, interleaved, p50 ms per round:")
    for n, f in enumerate(latency, 1):
        print(
            f"  round {n}: direct {f['c1_direct']:.3f}, nginx {f['c1_nginx']:.3f}, gateway "
            f"{f['c1_gateway']:.3f}; gateway adds {f['c1_gateway'] - f['c1_direct']:.3f} ms, "
            f"nginx {f['c1_nginx'] - f['c1_direct']:.3f} ms; gateway CPU "
            f"{f['gateway_cpu_us']:.0f} us/request; load average {f['load']:.1f}"
        )
    added = [f["c1_gateway"] - f["c1_direct"] for f in latency]
    cpu = [f["gateway_cpu_us"] for f in latency]
    print(
        f"  gateway adds (median of rounds) {statistics.median(added):.3f} ms; "
        f"gateway CPU (median) {statistics.median(cpu):.0f} us/request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500, help="Per target per round, c=1.")
    args = parser.parse_args()
    if not (shutil.which("nginx") and shutil.which("wrk")):
        raise SystemExit("needs nginx and wrk: apt-get install nginx-light wrk")
    token = mint_token(AuthSettings(jwt_secret=BENCH_SECRET), role="admin", ttl_seconds=3600)
    # The gateway's per-caller limit would throttle the benchmark itself.
    limits = {"GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
    results: Results = defaultdict(list)
    latency: list[dict[str, float]] = []
    with running_platform(extra_env=limits) as platform, tempfile.TemporaryDirectory() as tmp:
        service_port = platform.ports["assessment"]
        nginx_port = free_port()
        conf = Path(tmp) / "nginx.conf"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (Path(tmp) / sub).mkdir()
        conf.write_text(NGINX_CONF.format(tmp=tmp, service_port=service_port, port=nginx_port))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", tmp])
        try:
            time.sleep(0.5)
            targets = {
                "direct": f"http://127.0.0.1:{service_port}",
                "nginx": f"http://127.0.0.1:{nginx_port}",
                "gateway": platform.url("gateway"),
            }
            for base in targets.values():  # warm up, and make sure each answers
                response = httpx.get(
                    f"{base}/v1/factories?limit=20", headers={"authorization": f"Bearer {token}"}
                )
                response.raise_for_status()
            post_script = Path(tmp) / "post.lua"
            post_script.write_text(POST_LUA)
            gateway_pid = platform.processes["gateway"].pid
            for _ in range(args.rounds):
                latency.append(one_connection(targets, token, args.requests, gateway_pid))
                measured = measure_round(
                    targets, token, args.seconds, args.connections, post_script
                )
                for key, figures in measured.items():
                    results[key].append(figures)
        finally:
            nginx.terminate()
            nginx.wait()
    report(results, latency, args.seconds, args.connections)


if __name__ == "__main__":
    main()
