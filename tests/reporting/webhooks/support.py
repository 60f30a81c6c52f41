"""Webhook test plumbing: feeds that start now (deliveries go only to events newer than the
subscription), an in-process receiver that records what it got, and one-call sync/deliver."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.webhooks import signing
from services.reporting.webhooks.deliverer import Deliverer
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import FakeSource, FeedLog, factory_payload

RECEIVER = "http://receiver.test/hook"


def feed_from_now() -> FeedLog:
    return FeedLog(clock=datetime.now(UTC) + timedelta(seconds=1))


@dataclass
class Receiver:
    """Answers each request with ``status`` and keeps what it got."""

    status: int = 204
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, text="ok " * 500)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]

    def verify_all(self, secret: str) -> None:
        for request in self.requests:
            headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
            signing.verify(secret, headers, request.content, now=int(headers["webhook-timestamp"]))


def test_settings(**overrides: Any) -> ReportingSettings:
    base: dict[str, Any] = {
        "webhook_allow_private_urls": True,
        "webhook_retry_base_seconds": 0.001,
        "webhook_retry_max_seconds": 0.002,
    }
    return ReportingSettings(**(base | overrides))


def deliverer(app: FastAPI, receiver: Receiver, **overrides: Any) -> Deliverer:
    return Deliverer(app.state.db, test_settings(**overrides), receiver.transport())


async def sync(app: FastAPI, assessment: FeedLog, training: FeedLog | None = None) -> int:
    sources = {"assessment": FakeSource(assessment)}
    if training is not None:
        sources["training"] = FakeSource(training)
    return await sync_sources(app, sources)


def add_factory(log: FeedLog, ident: str, verb: str = "created", **fields: Any) -> None:
    log.add(f"factory.{verb}", factory_payload(ident, **fields))


def consent(
    log: FeedLog, ident: str, factory_id: str, brand_id: str, revoked: bool = False
) -> None:
    payload = {
        "id": ident,
        "factory_id": factory_id,
        "brand_id": brand_id,
        "granted_at": log.clock.isoformat(),
        "revoked_at": log.clock.isoformat() if revoked else None,
    }
    log.add("consent.revoked" if revoked else "consent.granted", payload)
