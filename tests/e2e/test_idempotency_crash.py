"""kill -9 the assessment service at random moments while writers create factories with
Idempotency-Keys, restart it, retry every unanswered request with its key: each key ends up as
exactly one factory, and each retry gets that factory's id at once, never a 409."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.e2e.slow_answers import HOLD_SECONDS
from tests.e2e.test_crash_durability import start_assessment
from tests.support import auth_header

pytestmark = pytest.mark.processes
STAFF = auth_header("staff")
WRITERS = 4
KILLS = 3
# Answers held back after their commit, so kills land in the window that matters most.
SLOW_ANSWERS = "tests.e2e.slow_answers:create_app"


@dataclass
class Ledger:
    """What the clients were told, shared by the writer threads."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> id answered
    unanswered: set[str] = field(default_factory=set)  # keys whose last attempt got no answer
    statuses: Counter[int] = field(default_factory=Counter)
    replayed: int = 0  # answers to a retry whose earlier attempt had committed before a kill
    lock: threading.Lock = field(default_factory=threading.Lock)


def create(client: httpx.Client, key: str) -> httpx.Response:
    """The same key always carries the same body: the factory is named after its key."""
    return client.post(
        "/v1/factories",
        json={"name": key, "country": "UZ"},
        headers={**STAFF, "idempotency-key": key},
    )


def writer(base_url: str, name: str, ledger: Ledger, stop: threading.Event) -> None:
    """Creates factories one after another; a request without an answer is retried with its
    key until it gets one, as a careful client does, across the service's restarts."""
    with httpx.Client(base_url=base_url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            n += 1
            key = f"{name}-{n}"
            while not stop.is_set():
                try:
                    response = create(client, key)
                except httpx.HTTPError:
                    with ledger.lock:
                        ledger.unanswered.add(key)
                    time.sleep(0.02)
                    continue
                with ledger.lock:
                    ledger.statuses[response.status_code] += 1
                    if response.status_code == 201:
                        ledger.replayed += "idempotent-replayed" in response.headers
                        ledger.acknowledged[key] = response.json()["id"]
                        ledger.unanswered.discard(key)
                        break
                    ledger.unanswered.add(key)
                time.sleep(0.02)


def test_every_key_is_one_factory_across_kill_9(migrated_env: dict[str, str]) -> None:
    port = free_port()
    env = {**migrated_env, "ASSESSMENT_PORT": str(port)}
    base_url = f"http://127.0.0.1:{port}"
    ledger = Ledger()
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(base_url, f"w{i}", ledger, stop))
        for i in range(WRITERS)
    ]
    platform = start_assessment(env, port, SLOW_ANSWERS)
    try:
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            time.sleep(random.uniform(0.3, 1.2))  # a random point of the load
            platform.processes["assessment"].send_signal(signal.SIGKILL)
            platform.processes["assessment"].wait(timeout=10)
            platform = start_assessment(env, port, SLOW_ANSWERS)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        # Retry every request that never got an answer, and replay some that did.
        answered_again: dict[str, httpx.Response] = {}
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for key in sorted(ledger.unanswered) + sorted(ledger.acknowledged)[:20]:
                answered_again[key] = create(client, key)
        stored = all_factory_names(base_url)
    finally:
        stop.set()
        platform.stop()

    # Every answer was a creation or its replay: no 409 "in progress", no 5xx.
    assert set(ledger.statuses) == {201}, f"answers: {dict(ledger.statuses)}"
    assert ledger.replayed > 0, (
        f"no kill landed between a commit and its answer (held {HOLD_SECONDS} s): "
        "the test proved nothing about that window"
    )
    assert len(ledger.acknowledged) >= 10, "the writers never got going"
    not_created = {k: r.status_code for k, r in answered_again.items() if r.status_code != 201}
    assert not_created == {}
    for key, id_ in ledger.acknowledged.items():
        if key in answered_again:
            assert answered_again[key].json()["id"] == id_, f"{key} answered with another id"
            assert answered_again[key].headers["idempotent-replayed"] == "true"
    every_key = set(ledger.acknowledged) | set(answered_again)
    duplicates = {name: n for name, n in Counter(stored.values()).items() if n > 1}
    assert duplicates == {}, f"keys stored more than once: {duplicates}"
    assert set(stored.values()) == every_key, "a stored factory has no key, or a key no factory"
    answered_id = {**ledger.acknowledged, **{k: r.json()["id"] for k, r in answered_again.items()}}
    assert {name: id_ for id_, name in stored.items()} == answered_id


def all_factory_names(base_url: str) -> dict[str, str]:
    """Every stored factory's id and name."""
    names: dict[str, str] = {}
    cursor = None
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/factories", params=params, headers=auth_header("admin")).json()
            names |= {item["id"]: item["name"] for item in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                return names
