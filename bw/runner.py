"""Starts the four apps as child processes, waits until each is ready, stops them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from bw.services import GATEWAY_FACTORY, SERVICES


@dataclass
class Platform:
    host: str
    ports: dict[str, int]
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"

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
            # The gateway decides which X-Forwarded-For to believe (GATEWAY_TRUSTED_PROXIES);
            # uvicorn's own handling would believe any local caller's before it could.
            *(["--no-proxy-headers"] if factory == GATEWAY_FACTORY else []),
        ]

    def start(self) -> None:
        env = {**os.environ, **self.env}
        for service in SERVICES:
            env[f"{service.env_prefix}PORT"] = str(self.ports[service.name])
            # Every app that calls a service learns where it really listens.
            for caller in ("GATEWAY", "TRAINING", "REPORTING"):
                env[f"{caller}_{service.name.upper()}_URL"] = self.url(service.name)
        for service in SERVICES:
            self.start_one(service.name, service.app_factory, env)
        self.start_one("gateway", GATEWAY_FACTORY, env)

    def start_one(self, name: str, factory: str, env: dict[str, str]) -> None:
        self.processes[name] = subprocess.Popen(
            self._command(factory, self.ports[name]), env=env, start_new_session=True
        )

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
