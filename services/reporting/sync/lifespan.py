"""Runs reporting's background work for as long as the app runs: the sync worker and the
webhook deliverer, each only while this replica holds its lease (sync/leader.py), so with N
replicas each runs in exactly one of them and a survivor takes over when that one dies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.sync.leader import Leadership
from services.reporting.sync.worker import SyncWorker, make_readers
from services.reporting.webhooks.deliverer import Deliverer

SYNC_LEASE = "reporting-sync"
DELIVERY_LEASE = "reporting-webhooks"


def sync_lifespan(
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: ReportingSettings = app.state.settings
        db = app.state.db
        tasks: list[asyncio.Task[None]] = []
        closers = []
        app.state.leaderships = {}
        if settings.sync_enabled:
            worker = SyncWorker(
                make_readers(db, settings, app.state.auth_settings, transports),
                interval=settings.sync_interval_seconds,
                max_backoff=settings.sync_max_backoff_seconds,
            )
            app.state.sync_worker = worker
            closers.append(worker.close)
            lead = Leadership(db, SYNC_LEASE, settings.leader_lease_seconds)
            app.state.leaderships[SYNC_LEASE] = lead
            tasks.append(asyncio.create_task(lead.run(worker.run), name="reporting-sync"))
        if settings.webhooks_enabled:
            deliverer = Deliverer(db, settings, webhook_transport)
            app.state.deliverer = deliverer
            closers.append(deliverer.close)
            lead = Leadership(db, DELIVERY_LEASE, settings.leader_lease_seconds)
            app.state.leaderships[DELIVERY_LEASE] = lead
            tasks.append(asyncio.create_task(lead.run(deliverer.run), name="reporting-webhooks"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for close in closers:
                await close()

    return lifespan
