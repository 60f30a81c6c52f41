"""docker-compose.yml agrees with itself: the gateway is handed every replica of each service on
the port that replica listens on, the services call one another by a name every replica
answers to, and the gateway's rate limits live in the Redis service."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # PyYAML: installed with the dev dependency schemathesis
from uvicorn.main import main as uvicorn_cli

from bw.runner import Platform
from bw.services import GATEWAY_FACTORY

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SERVICES = {"assessment": 8001, "training": 8002, "reporting": 8003}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document["services"]  # type: ignore[no-any-return]


def listens_on(definition: dict[str, Any]) -> int:
    command = definition["command"]
    return int(command[command.index("--port") + 1])


def replicas(compose: dict[str, Any], service: str) -> list[str]:
    return sorted(n for n in compose if re.fullmatch(rf"{service}-\d+", n))


@pytest.mark.parametrize("service", SERVICES)
def test_the_gateway_is_handed_every_replica_where_it_listens(
    compose: dict[str, Any], service: str
) -> None:
    names = replicas(compose, service)
    urls = compose["gateway"]["environment"][f"GATEWAY_{service.upper()}_URL"].split(",")
    assert len(names) >= 2
    assert urls == [f"http://{n}:{listens_on(compose[n])}" for n in names]
    assert all(httpx.URL(url).port == SERVICES[service] for url in urls)
    assert set(names) <= set(compose["gateway"]["depends_on"])


@pytest.mark.parametrize("service", SERVICES)
def test_replicas_are_alike_and_answer_to_the_service_name(
    compose: dict[str, Any], service: str
) -> None:
    first, *others = (compose[n] for n in replicas(compose, service))
    assert all(other == first for other in others)
    assert first["networks"]["default"]["aliases"] == [service]
    health = " ".join(first["healthcheck"]["test"])
    assert f"127.0.0.1:{listens_on(first)}/health/ready" in health
    # Other services call it by that shared name, never by one replica's (only the gateway,
    # which balances, lists them).
    callers = [d for n, d in compose.items() if n != "gateway"]
    values = [str(v) for d in callers for v in d.get("environment", {}).values()]
    assert not [v for v in values if re.search(rf"//{service}-\d", v)]
    assert any(v == f"http://{service}:{SERVICES[service]}" for v in values) or (
        service == "reporting"  # nothing calls reporting but the gateway
    )


def test_the_gateway_keeps_its_rate_limits_in_the_redis_service(compose: dict[str, Any]) -> None:
    redis_url = httpx.URL(compose["gateway"]["environment"]["REDIS_URL"])
    assert redis_url.scheme == "redis" and redis_url.host == "redis"
    assert "redis" in compose and compose["gateway"]["depends_on"]["redis"] == {
        "condition": "service_healthy"
    }


def uvicorn_options(command: list[str]) -> dict[str, Any]:
    """What uvicorn makes of a command line (``... uvicorn APP --options``)."""
    arguments = command[command.index("uvicorn") + 1 :]
    return uvicorn_cli.make_context("uvicorn", arguments).params


def test_the_gateway_keeps_idle_connections_longer_than_clients_in_bw_up_and_compose(
    compose: dict[str, Any],
) -> None:
    """Else the gateway closes a kept-alive connection as a client's next request crosses it,
    and the client sees "server disconnected" (once in 1,014 requests in the chaos test)."""
    launched = Platform(host="127.0.0.1", ports={})._command(GATEWAY_FACTORY, 8000)
    for command in (launched, compose["gateway"]["command"]):
        options = uvicorn_options(command)
        assert options["timeout_keep_alive"] >= 60, command
        assert options["proxy_headers"] is False, command
