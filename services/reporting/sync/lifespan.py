"""Runs the sync worker as a background task for as long as the reporting app runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import SyncWorker, make_readers


def sync_lifespan(
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: ReportingSettings = app.state.settings
        if not settings.sync_enabled:
            yield
            return
        worker = SyncWorker(
            make_readers(app.state.db, settings, app.state.auth_settings, transports),
            interval=settings.sync_interval_seconds,
            max_backoff=settings.sync_max_backoff_seconds,
        )
        app.state.sync_worker = worker
        task = asyncio.create_task(worker.run(), name="reporting-sync")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await worker.close()

    return lifespan
