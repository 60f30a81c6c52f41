"""Rate limits hold against a client that lies about its address or floods bad tokens: only a
configured proxy's X-Forwarded-For is believed, and unknown tokens are charged to the client
address before any signature is checked."""

from __future__ import annotations

import json
import logging
import os
import time

import httpx
import pytest

import services.common.auth as auth
from bw.runner import Platform
from bw.services import GATEWAY_FACTORY
from gateway.app import create_app
from gateway.client_address import TrustedProxies, parse_networks
from gateway.settings import GatewaySettings
from services.common.observability import JsonFormatter
from tests.e2e.conftest import free_port
from tests.support import TEST_AUTH, auth_header

# httpx's ASGITransport connects every test client from this address.
PEER = "127.0.0.1"


class RecordingService:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"items": []})


def gateway_with(service: RecordingService, **settings: object) -> httpx.AsyncClient:
    limits: dict[str, object] = {"rate_limit_per_minute": 60, "rate_limit_burst": 3}
    app = create_app(
        GatewaySettings(**{**limits, **settings}),  # type: ignore[arg-type]
        TEST_AUTH,
        transports={
            name: httpx.MockTransport(service) for name in ("assessment", "training", "reporting")
        },
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_a_rotating_x_forwarded_for_from_an_unconfigured_peer_is_ignored() -> None:
    service = RecordingService()
    async with gateway_with(service) as client:
        statuses = [
            (
                await client.get(
                    "/v1/reports/freshness", headers={"x-forwarded-for": f"203.0.113.{n}"}
                )
            ).status_code
            for n in range(8)
        ]
    assert statuses == [200] * 3 + [429] * 5
    # The service learns the real peer, not the claim, and only one address.
    assert [r.headers.get_list("x-forwarded-for") for r in service.requests] == [[PEER]] * 3


async def test_a_trusted_proxy_names_the_client_and_each_client_has_its_own_limit() -> None:
    service = RecordingService()
    async with gateway_with(service, trusted_proxies=["127.0.0.0/8"]) as client:
        statuses = {
            address: [
                (
                    await client.get("/v1/reports/freshness", headers={"x-forwarded-for": address})
                ).status_code
                for _ in range(4)
            ]
            for address in ("198.51.100.7", "198.51.100.8")
        }
    assert statuses == {"198.51.100.7": [200, 200, 200, 429], "198.51.100.8": [200, 200, 200, 429]}
    forwarded = [r.headers.get_list("x-forwarded-for") for r in service.requests]
    assert forwarded == [["198.51.100.7"]] * 3 + [["198.51.100.8"]] * 3


async def test_behind_a_trusted_proxy_a_client_cannot_prepend_its_own_hops() -> None:
    """The proxy appends what it saw; whatever the client wrote to the left is only a claim."""
    service = RecordingService()
    async with gateway_with(service, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]) as client:
        statuses = [
            (
                await client.get(
                    "/v1/reports/freshness",
                    headers={"x-forwarded-for": f"192.0.2.{n}, 198.51.100.9, 10.1.2.3"},
                )
            ).status_code
            for n in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]
    assert service.requests[0].headers.get_list("x-forwarded-for") == ["198.51.100.9"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["198.51.100.1, 10.0.0.9"], "198.51.100.1"),  # two trusted hops
        ("10.0.0.5", ["198.51.100.1", "198.51.100.2"], "198.51.100.2"),  # repeated header
        ("10.0.0.5", ["10.0.0.7, 10.0.0.6"], "10.0.0.7"),  # all trusted: the farthest
        ("10.0.0.5", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.5", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),  # garbage: the proxy we know
        ("10.0.0.5", [], "10.0.0.5"),
        ("192.0.2.44", ["198.51.100.1"], "192.0.2.44"),  # an untrusted peer's claim
    ],
)
def test_client_address_rules(peer: str, forwarded_for: list[str], client: str) -> None:
    trusted = TrustedProxies(parse_networks(["10.0.0.0/8"]))
    assert trusted.client_address(peer, forwarded_for) == client


def test_trusted_proxies_setting_takes_a_list_and_refuses_nonsense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5")
    assert GatewaySettings().trusted_proxies == ["10.0.0.0/8", "192.168.1.5"]
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["fd00::/8"]')
    assert GatewaySettings().trusted_proxies == ["fd00::/8"]
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "everyone")
    with pytest.raises(ValueError):
        GatewaySettings()
    monkeypatch.delenv("GATEWAY_TRUSTED_PROXIES")
    assert GatewaySettings().trusted_proxies == []


async def test_a_flood_of_bad_tokens_meets_429_and_stops_costing_signature_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    real_verify = auth._verify_token

    def counting_verify(token: str, settings: object) -> tuple[auth.Principal, float]:
        checks.append(token)
        return real_verify(token, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "_verify_token", counting_verify)
    service = RecordingService()
    async with gateway_with(service) as client:
        statuses = [
            (
                await client.get(
                    "/v1/factories", headers={"authorization": f"Bearer forged.token.{n}"}
                )
            ).status_code
            for n in range(10)
        ]
        malformed = await client.get("/v1/factories", headers={"authorization": "Basic x"})
    assert statuses == [401] * 3 + [429] * 7
    assert malformed.status_code == 429
    assert len(checks) == 3
    assert service.requests == []


async def test_a_verified_token_is_limited_by_its_subject_not_by_bad_neighbours() -> None:
    """A caller already known keeps working while others at its address are limited."""
    service = RecordingService()
    staff = auth_header("staff")
    async with gateway_with(service) as client:
        first = await client.get("/v1/courses", headers=staff)  # verified once, costs the address
        for n in range(5):
            await client.get("/v1/courses", headers={"authorization": f"Bearer bad.{n}.x"})
        anonymous = await client.get("/v1/reports/freshness")
        known = [(await client.get("/v1/courses", headers=staff)).status_code for _ in range(3)]
    assert first.status_code == 200 and anonymous.status_code == 429
    assert known == [200, 200, 429]  # its own burst of 3, the first request included


async def test_the_access_log_names_the_resolved_client(caplog: pytest.LogCaptureFixture) -> None:
    service = RecordingService()
    async with gateway_with(service, trusted_proxies=["127.0.0.1"]) as client:
        with caplog.at_level(logging.INFO, logger="bw.access"):
            await client.get("/v1/reports/freshness", headers={"x-forwarded-for": "198.51.100.4"})
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["service"] == "gateway" and line["client"] == "198.51.100.4"


@pytest.mark.processes
def test_the_gateway_process_ignores_x_forwarded_for_from_local_clients() -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to; `bw up` must tell
    the gateway's server not to, or every local client can pick its own address."""
    env = {
        **os.environ,
        "AUTH_JWT_SECRET": TEST_AUTH.jwt_secret,
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "60",
        "GATEWAY_RATE_LIMIT_BURST": "3",
        "GATEWAY_TRUSTED_PROXIES": "",
    }
    platform = Platform(host="127.0.0.1", ports={"gateway": free_port()}, env=env)
    platform.start_one("gateway", GATEWAY_FACTORY, env)
    try:
        url = platform.url("gateway")
        with httpx.Client(base_url=url, timeout=5.0) as client:
            for _ in range(300):
                try:
                    if client.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    assert not platform.failed(), "the gateway exited at startup"
                    time.sleep(0.1)
            statuses = [
                client.get(
                    "/v1/reports/freshness", headers={"x-forwarded-for": f"203.0.113.{n}"}
                ).status_code
                for n in range(6)
            ]
    finally:
        platform.stop()
    # No service runs behind it (503), but the limit applies first.
    assert statuses[3:] == [429, 429, 429], statuses
