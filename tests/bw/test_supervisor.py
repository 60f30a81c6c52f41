"""`bw up` keeps the platform running: a killed child comes back after a back-off, one that
keeps dying at startup is given up with a message, replicas need PostgreSQL and answer."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bw.main import app
from bw.runner import GaveUp, Platform, RestartPolicy
from tests.e2e.conftest import SERVICES, free_port, migrated_env, start_platform
from tests.support import TEST_DATABASE_URL, auth_header

__all__ = ["migrated_env"]  # the fixture, shared with the e2e process tests

needs_postgres = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL")

# A guard against a hung test, never an assertion on how long anything took.
PATIENCE = 60.0


def ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/health/ready", timeout=2.0).status_code == 200
    return False


def test_the_back_off_doubles_per_fast_crash_up_to_its_cap() -> None:
    policy = RestartPolicy(initial_backoff=0.5, max_backoff=4.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_replicas_on_sqlite_are_refused_with_what_to_do(sqlite_deployment: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--replicas", "2"])
    assert result.exit_code != 0
    assert "--replicas 2 needs a database every replica shares" in result.output
    assert "DATABASE_URL=postgresql+asyncpg://" in result.output
    # Refused before anything started: no SQLite file was created either.
    assert not list(sqlite_deployment.glob("*.db"))


def test_extra_replicas_take_successive_ports_after_every_configured_one() -> None:
    ports = {"assessment": 8001, "training": 8002, "reporting": 8003, "gateway": 8000}
    assigned = Platform(host="127.0.0.1", ports=ports, replicas=3).replica_ports()
    assert assigned == {
        "assessment": 8001,
        "training": 8002,
        "reporting": 8003,
        "assessment-2": 8004,
        "training-2": 8005,
        "reporting-2": 8006,
        "assessment-3": 8007,
        "training-3": 8008,
        "reporting-3": 8009,
    }
    # Ports named for a replica are used as given; the others still follow the highest.
    named = {**ports, "training-2": 9100}
    assert Platform(host="127.0.0.1", ports=named, replicas=2).replica_ports() == {
        "assessment": 8001,
        "training": 8002,
        "reporting": 8003,
        "assessment-2": 9101,
        "training-2": 9100,
        "reporting-2": 9102,
    }


def test_a_child_that_keeps_dying_at_startup_is_given_up(tmp_path: Path) -> None:
    messages: list[str] = []
    broken = Platform(
        host="127.0.0.1",
        ports={"broken": free_port()},
        policy=RestartPolicy(initial_backoff=0.1, stable_after=PATIENCE, max_fast_crashes=2),
        log=messages.append,
    )
    broken.start_one("broken", "bw.no_such_module:create_app", dict(os.environ))
    deadline = time.monotonic() + PATIENCE
    with pytest.raises(GaveUp, match=r"broken exited \(code 3\) 3 times in a row"):
        while time.monotonic() < deadline:
            broken.supervise()
            time.sleep(0.02)
    broken.stop()
    assert broken.children["broken"].restarts == 2
    assert [re.sub(r"after [0-9.]+s", "after Ns", m) for m in messages] == [
        "broken exited with code 3 after Ns; restarting it in 0.1s (restart 1)",
        "broken exited with code 3 after Ns; restarting it in 0.2s (restart 2)",
    ]


@pytest.mark.processes
def test_a_killed_service_is_started_again_and_answers(migrated_env: dict[str, str]) -> None:
    messages: list[str] = []
    running = start_platform(migrated_env)
    running.log = messages.append
    try:
        killed = running.processes["training"]
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and not (
            running.processes["training"] is not killed and ready(running.url("training"))
        ):
            running.supervise()
            time.sleep(0.1)
        with httpx.Client(base_url=running.url("gateway"), timeout=10) as client:
            courses = client.get("/v1/courses", headers=auth_header("staff"))
    finally:
        running.stop()
    assert running.processes["training"].pid != killed.pid
    assert courses.status_code == 200, courses.text
    assert running.children["training"].restarts == 1
    assert len(messages) == 1 and messages[0].startswith("training exited with code -9 after")


@pytest.mark.processes
def test_bw_up_restarts_a_killed_child_then_stops_everything_on_sigterm(
    migrated_env: dict[str, str],
) -> None:
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    env = dict(migrated_env)
    for name in SERVICES:
        env[f"{name.upper()}_PORT"] = str(ports[name])
    command = [sys.executable, "-m", "bw.main", "up", "--gateway-port", str(ports["gateway"])]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + PATIENCE
        pids: list[str] = []
        while time.monotonic() < deadline and not pids:
            found = (re.search(r"assessment .*pid (\d+)", line) for line in list(lines))
            pids = [m[1] for m in found if m]
            time.sleep(0.1)
        assert pids, "bw up never said the platform is up:\n" + "".join(lines)
        os.kill(int(pids[0]), signal.SIGKILL)
        restarted = False
        while time.monotonic() < deadline and not restarted:
            restarted = any("restarting it" in line for line in list(lines))
            time.sleep(0.1)
        back = False
        while time.monotonic() < deadline and not back:
            back = ready(f"http://127.0.0.1:{ports['assessment']}")
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(lines)
    assert back, text
    assert "assessment exited with code -9" in text
    assert process.returncode == 0, text
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


@needs_postgres
@pytest.mark.processes
def test_replicas_share_the_database_and_all_answer(migrated_env: dict[str, str]) -> None:
    names = [*SERVICES, *(f"{s}-2" for s in SERVICES), "gateway"]
    ports = {name: free_port() for name in names}
    running = Platform(host="127.0.0.1", ports=ports, env=migrated_env, replicas=2)
    running.start()
    try:
        running.wait_ready(timeout=PATIENCE)
        with httpx.Client(base_url=running.url("gateway"), timeout=10) as client:
            created = client.post(
                "/v1/factories",
                json={"name": "Samarqand Tikuv", "country": "UZ"},
                headers=auth_header("staff"),
            )
        seen = {
            name: httpx.get(
                running.url(name) + "/v1/factories", headers=auth_header("admin"), timeout=10
            ).json()["items"]
            for name in ("assessment", "assessment-2")
        }
        answering = {name: ready(running.url(name)) for name in running.processes}
    finally:
        running.stop()
    assert created.status_code == 201, created.text
    # Both replicas read the one database: the factory written through either is seen by both.
    assert [[f["name"] for f in items] for items in seen.values()] == [["Samarqand Tikuv"]] * 2
    assert len(answering) == 7 and all(answering.values()), answering


def test_a_child_that_ran_long_enough_starts_its_back_off_again() -> None:
    messages: list[str] = []
    # stable_after=0: every run counts as long, so no crash is a fast one in a row.
    flapping = Platform(
        host="127.0.0.1",
        ports={"flapping": free_port()},
        policy=RestartPolicy(initial_backoff=0.1, stable_after=0.0, max_fast_crashes=1),
        log=messages.append,
    )
    flapping.start_one("flapping", "bw.no_such_module:create_app", dict(os.environ))
    deadline = time.monotonic() + PATIENCE
    try:
        while len(messages) < 4 and time.monotonic() < deadline:
            flapping.supervise()  # would raise GaveUp on a second fast crash in a row
            time.sleep(0.02)
    finally:
        flapping.stop()
    assert len(messages) >= 4
    assert all("restarting it in 0.1s" in m for m in messages), messages
    assert flapping.children["flapping"].fast_crashes == 1
