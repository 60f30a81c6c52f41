"""kill -9 a service while clients write to it, restart it: every acknowledged write is there."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from bw.runner import Platform
from bw.services import spec
from tests.e2e.conftest import free_port
from tests.support import auth_header

pytestmark = pytest.mark.processes
STAFF = auth_header("staff")


def start_assessment(env: dict[str, str], port: int, factory: str | None = None) -> Platform:
    platform = Platform(host="127.0.0.1", ports={"assessment": port})
    factory = factory or spec("assessment").app_factory
    platform.start_one("assessment", factory, {**os.environ, **env})
    platform.wait_ready(timeout=60)
    return platform


def writer(base_url: str, acknowledged: list[str], stop: threading.Event, name: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = client.post(
                    "/v1/factories", json={"name": f"{name}-{n}", "country": "UZ"}, headers=STAFF
                )
            except httpx.HTTPError:
                continue  # not acknowledged: the client may not assume anything
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


def all_factory_ids(base_url: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/factories", params=params, headers=auth_header("admin")).json()
            ids |= {item["id"] for item in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                return ids


def test_acknowledged_writes_survive_kill_9(migrated_env: dict[str, str]) -> None:
    port = free_port()
    env = {**migrated_env, "ASSESSMENT_PORT": str(port)}
    base_url = f"http://127.0.0.1:{port}"
    platform = start_assessment(env, port)
    acknowledged: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(base_url, acknowledged, stop, f"w{i}"))
        for i in range(4)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        platform.processes["assessment"].send_signal(signal.SIGKILL)
        platform.processes["assessment"].wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        platform.stop()
    assert len(acknowledged) >= 40, "the writers never got going"

    restarted = start_assessment(env, port)
    try:
        stored = all_factory_ids(base_url)
    finally:
        restarted.stop()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged writes lost"
