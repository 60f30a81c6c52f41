"""The platform as `make run` starts it: real processes on ephemeral ports, a temporary var/."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bw.runner import Platform
from services.common.auth import verify_token
from tests.e2e.conftest import SERVICES, free_port
from tests.support import TEST_AUTH, auth_header

pytestmark = pytest.mark.processes


def test_a_service_is_reached_through_the_real_gateway(platform: Platform) -> None:
    gateway = platform.url("gateway")
    with httpx.Client(base_url=gateway, timeout=10) as client:
        created = client.post(
            "/v1/factories",
            json={"name": "Андижон Текстиль", "country": "UZ"},
            headers=auth_header("staff"),
        )
        listed = client.get("/v1/factories", headers=auth_header("admin"))
        docs = client.get("/openapi.json")
    assert created.status_code == 201, created.text
    assert [f["name"] for f in listed.json()["items"]] == ["Андижон Текстиль"]
    assert {"/v1/factories", "/v1/courses", "/v1/reports/freshness"} <= set(docs.json()["paths"])


def test_stopped_service_gives_503_problem_quickly(platform: Platform) -> None:
    platform.processes["training"].send_signal(signal.SIGKILL)
    platform.processes["training"].wait(timeout=10)
    # The client gives up after 2 s, so a gateway that waited longer would fail this test.
    with httpx.Client(base_url=platform.url("gateway"), timeout=2.0) as client:
        response = client.get("/v1/courses", headers=auth_header("staff"))
        other = client.get("/v1/factories", headers=auth_header("staff"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["service"] == "training"
    assert other.status_code == 200


def test_bw_up_starts_everything_and_stops_cleanly_on_ctrl_c(migrated_env: dict[str, str]) -> None:
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    env = dict(migrated_env)
    for name in SERVICES:
        env[f"{name.upper()}_PORT"] = str(ports[name])
    command = [sys.executable, "-m", "bw.main", "up", "--gateway-port", str(ports["gateway"])]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and not ready:
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{ports['gateway']}/health/ready").is_success
            time.sleep(0.2)
        assert ready, "the gateway never became ready"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    text = output.decode()
    assert process.returncode == 0, text
    assert f"http://127.0.0.1:{ports['gateway']}/docs" in text
    assert "admin token" in text
    # The printed token is whole on one line (copy-paste) and valid.
    printed = [line.strip() for line in text.splitlines() if line.strip().startswith("eyJ")]
    assert len(printed) == 1
    assert verify_token(printed[0], TEST_AUTH).role == "admin"
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
