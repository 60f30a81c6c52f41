"""Starts the four apps as child processes, waits until each is ready, keeps them running, stops
them together.

A child that dies is started again after a back-off that doubles with each crash that follows a
short run (0.5 s, 1 s, 2 s, ... up to 30 s) and resets once a child has stayed up a while, so a
killed or OOM-ed process is back within a second while a service that cannot start (a port in
use, a database gone) does not spin. After ``max_fast_crashes`` short-lived runs in a row the
supervisor gives up on that child and says so; the caller (``bw up``) then stops the platform,
because a platform silently missing a service is worse than one that is plainly down.

With ``replicas`` > 1 each service runs as that many processes: the first on the service's own
port, the others on successive ports after every configured one, and the gateway is handed the
comma-separated list of a service's replica URLs (``GATEWAY_<SERVICE>_URL``), as are the
services that call another (``TRAINING_ASSESSMENT_URL``, ``REPORTING_*_URL``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bw.services import GATEWAY_FACTORY, SERVICES

Log = Callable[[str], None]

GATEWAY_OPTIONS = [
    # The gateway decides which X-Forwarded-For to believe (GATEWAY_TRUSTED_PROXIES); uvicorn's
    # own handling would believe any local caller's before it could.
    "--no-proxy-headers",
    # A kept-alive connection is closed by its idle side while a request may be crossing it;
    # the client then sees "server disconnected" for a request it cannot know was not read. The
    # public door stays open longer than clients and load balancers keep idle connections
    # (commonly 60 s), so they are the ones that close. uvicorn's default is 5 s.
    "--timeout-keep-alive",
    "75",
]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RestartPolicy:
    """When and how often a dead child is started again."""

    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    # A child that ran at least this long crashed for a reason of its own, not at startup:
    # its back-off and its count of fast crashes start again from nothing.
    stable_after: float = 10.0
    max_fast_crashes: int = 5

    def backoff(self, fast_crashes: int) -> float:
        """The wait before the next start after ``fast_crashes`` short runs in a row (>= 1)."""
        return float(min(self.max_backoff, self.initial_backoff * 2 ** max(0, fast_crashes - 1)))


@dataclass
class Child:
    """One process of the platform and what the supervisor remembers of its runs."""

    name: str
    factory: str
    port: int
    started_at: float = 0.0
    restarts: int = 0
    fast_crashes: int = 0
    restart_at: float | None = None  # set while the child is down and waiting for its restart
    gave_up: bool = False


class GaveUp(RuntimeError):
    """A child crashed too often right after starting; restarting it again would only spin."""


@dataclass
class Platform:
    host: str
    ports: dict[str, int]
    env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    log: Log = _stderr
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    _child_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        """A process's URL: ``assessment`` is the service's first replica, ``assessment-2`` the
        second, ``gateway`` the gateway."""
        port = self.children[name].port if name in self.children else self.ports[name]
        return f"http://{self.host}:{port}"

    def replica_names(self, service: str) -> list[str]:
        return [service] + [f"{service}-{k}" for k in range(2, self.replicas + 1)]

    def replica_ports(self) -> dict[str, int]:
        """Every service process's port: replica 1 on the service's port, the others where
        ``ports`` names them (``assessment-2``: ...) or else on successive ports after the
        highest configured one (the default ports are adjacent, so ``port + k`` would land on
        the next service)."""
        assigned = {s.name: self.ports[s.name] for s in SERVICES}
        spare = max(self.ports.values()) + 1
        for k in range(2, self.replicas + 1):
            for service in SERVICES:
                name = f"{service.name}-{k}"
                if name in self.ports:
                    assigned[name] = self.ports[name]
                    continue
                assigned[name] = spare
                spare += 1
        return assigned

    def _command(self, factory: str, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            self.host,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            *(GATEWAY_OPTIONS if factory == GATEWAY_FACTORY else []),
        ]

    def start(self) -> None:
        env = {**os.environ, **self.env}
        ports = self.replica_ports()
        for service in SERVICES:
            urls = [f"http://{self.host}:{ports[n]}" for n in self.replica_names(service.name)]
            # The gateway balances over every replica; the services' own clients pass over a
            # replica that is down (services/common/http_client.py).
            env[f"GATEWAY_{service.name.upper()}_URL"] = ",".join(urls)
            for caller in ("TRAINING", "REPORTING"):
                env[f"{caller}_{service.name.upper()}_URL"] = ",".join(urls)
        for service in SERVICES:
            for name in self.replica_names(service.name):
                own = {**env, f"{service.env_prefix}PORT": str(ports[name])}
                self.start_one(name, service.app_factory, own, ports[name])
        self.start_one("gateway", GATEWAY_FACTORY, env, self.ports["gateway"])

    def start_one(
        self, name: str, factory: str, env: dict[str, str], port: int | None = None
    ) -> None:
        port = self.ports[name] if port is None else port
        child = self.children.setdefault(name, Child(name, factory, port))
        self._child_env[name] = env
        self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.started_at = time.monotonic()
        child.restart_at = None
        self.processes[child.name] = subprocess.Popen(
            self._command(child.factory, child.port),
            env=self._child_env[child.name],
            start_new_session=True,
        )

    def supervise(self) -> None:
        """One round of supervision: note every child that died, start again those whose
        back-off has passed. Raises :class:`GaveUp` when a child keeps dying at startup."""
        moment = time.monotonic()
        for child in self.children.values():
            process = self.processes[child.name]
            if child.restart_at is None and (code := process.poll()) is not None:
                ran = moment - child.started_at
                child.fast_crashes = child.fast_crashes + 1 if ran < self.policy.stable_after else 1
                if child.fast_crashes > self.policy.max_fast_crashes:
                    child.gave_up = True
                    raise GaveUp(
                        f"{child.name} exited (code {code}) {child.fast_crashes} times in a row "
                        f"within {self.policy.stable_after:.0f}s of starting; not restarting it "
                        "(its own messages are above)"
                    )
                wait = self.policy.backoff(child.fast_crashes)
                child.restart_at = moment + wait
                self.log(
                    f"{child.name} exited with code {code} after {ran:.1f}s; "
                    f"restarting it in {wait:.1f}s (restart {child.restarts + 1})"
                )
            if child.restart_at is not None and moment >= child.restart_at:
                child.restarts += 1
                self._spawn(child)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.processes)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                name = pending[0]
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {process.returncode} at startup")
                try:
                    if client.get(self.url(name) + "/health/ready").status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} was not ready within {timeout:.0f}s")
                time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        for child in self.children.values():
            child.restart_at = None  # nothing is started again once stopping has begun
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def failed(self) -> dict[str, int]:
        return {name: code for name, p in self.processes.items() if (code := p.poll()) is not None}
