"""Pulls the assessment and training change feeds into the read model.

Each page is applied in one transaction together with the new cursor, so a crash (even
kill -9) either keeps both or neither; the next run asks again from the stored cursor and the
idempotent applies make any re-delivered event harmless. A source that is down is retried with
exponential backoff while the last applied data keeps being served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role, mint_token
from services.common.db import Database
from services.common.feed_order import FeedPosition
from services.common.http_client import make_client
from services.common.settings import AuthSettings
from services.reporting.models import FeedCursor
from services.reporting.settings import ReportingSettings
from services.reporting.sync.apply import ApplyContext, apply_event, parse_datetime
from services.reporting.sync.rebuild import rebuild_if_diverged
from services.reporting.sync.versions import claim_if_newer
from services.reporting.webhooks.events import enqueue, load_subscriptions

log = logging.getLogger("bw.reporting.sync")

Sleep = Callable[[float], Awaitable[None]]


class FeedUnavailable(Exception):
    """The source did not answer with a page of its feed."""


def backoff_delay(failures: int, base: float, maximum: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: base, 2x, 4x ... up to maximum."""
    return float(min(maximum, base * 2 ** max(0, failures - 1)))


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PageResult:
    applied: int
    has_more: bool


async def ensure_cursor(db: Database, source: str) -> FeedCursor:
    async with db.sessionmaker() as session:
        cursor = await session.get(FeedCursor, source)
        if cursor is not None:
            return cursor
        session.add(FeedCursor(source=source))
        try:
            await session.commit()
        except IntegrityError:  # another syncer created it first
            await session.rollback()
        cursor = await session.get(FeedCursor, source)
        assert cursor is not None
        return cursor


def position_of(cursor: FeedCursor) -> FeedPosition:
    """Where the cursor stands in its source's feed (a bare id until a PostgreSQL feed answers
    with a ``<txid>.<id>`` position)."""
    return FeedPosition(cursor.last_event_txid, cursor.last_event_id)


async def _locked_cursor(session: AsyncSession, source: str) -> FeedCursor:
    """The cursor row, locked for this transaction (SQLite: the write lock is already held)."""
    stmt = select(FeedCursor).where(FeedCursor.source == source).with_for_update()  # type: ignore[arg-type]
    cursor = (await session.execute(stmt)).scalar_one()
    return cursor


class FeedReader:
    """Reads one source's feed from its stored cursor and applies it page by page."""

    def __init__(
        self,
        db: Database,
        source: str,
        client: httpx.AsyncClient,
        auth_settings: AuthSettings,
        page_size: int = 500,
    ) -> None:
        self.db = db
        self.source = source
        self.client = client
        self.auth_settings = auth_settings
        self.page_size = page_size
        # Whether this reader checked that the feed still holds what was applied from it.
        self.verified = False
        self.rebuilt = False

    def _token(self) -> str:
        return mint_token(
            self.auth_settings, role=Role.SERVICE, subject="reporting-sync", ttl_seconds=300
        )

    async def fetch(self, after: FeedPosition, limit: int | None = None) -> dict[str, Any]:
        try:
            response = await self.client.get(
                "/internal/v1/changes",
                params={"after": str(after), "limit": limit or self.page_size},
                headers={"authorization": f"Bearer {self._token()}"},
            )
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise FeedUnavailable(f"HTTP {response.status_code} from {response.request.url}")
        try:
            page: dict[str, Any] = response.json()
            page["items"], FeedPosition.parse(page["next_cursor"])
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedUnavailable("The source answered with something that is not a page") from exc
        return page

    async def pull_page(self) -> PageResult:
        """Fetch the page after the stored cursor and apply it with the new cursor, atomically."""
        await ensure_cursor(self.db, self.source)
        async with self.db.sessionmaker() as session:
            stored = await session.get(FeedCursor, self.source)
            assert stored is not None
            after = position_of(stored)
        asked_at = now()
        page = await self.fetch(after)
        items: list[dict[str, Any]] = page["items"]
        has_more = bool(page.get("has_more"))
        async with self.db.sessionmaker() as session:
            cursor = await _locked_cursor(session, self.source)
            if position_of(cursor) != after:
                # Another syncer applied this page meanwhile: drop ours, read on from theirs.
                await session.rollback()
                return PageResult(applied=0, has_more=True)
            context = ApplyContext()
            subscriptions = await load_subscriptions(session) if items else []
            for event in items:
                # A snapshot older than one applied already is skipped, deliveries and rows
                # alike (sync/versions.py). Deliveries first (they compare with the rows the
                # event replaces), then the rows: both commit with the cursor, or neither does.
                if not await claim_if_newer(session, event):
                    continue
                await enqueue(session, self.source, event, subscriptions)
                await apply_event(session, event, context)
            if items:
                reached = FeedPosition.parse(page["next_cursor"])
                cursor.last_event_txid, cursor.last_event_id = reached.txid, reached.id
                cursor.last_event_at = parse_datetime(items[-1]["occurred_at"])
                # Moved only with the read model: kept labels and answers are keyed by it
                # (compliance/labels.py, kept_answers.py), and an empty poll changes nothing.
                cursor.updated_at = now()
            cursor.last_attempt_at = asked_at
            if not has_more:
                cursor.caught_up_at = asked_at
            cursor.last_error = None
            cursor.consecutive_failures = 0
            await session.commit()
        return PageResult(applied=len(items), has_more=has_more)

    async def fetch_one(self, after: FeedPosition) -> dict[str, Any]:
        return await self.fetch(after, limit=1)

    async def verify(self) -> None:
        """Once per reader: rebuild from the feed if it no longer holds what was applied."""
        if not self.verified:
            self.rebuilt = await rebuild_if_diverged(self.db, self.source, self.fetch_one)
            self.verified = True

    async def catch_up(self, max_pages: int | None = None) -> int:
        """Apply pages until the source has no more; returns how many events were applied."""
        await self.verify()
        applied = pages = 0
        while True:
            result = await self.pull_page()
            applied += result.applied
            pages += 1
            if not result.has_more or (max_pages is not None and pages >= max_pages):
                return applied

    async def record_failure(self, error: str) -> int:
        """Note the failure on the cursor (without moving it); returns consecutive failures."""
        await ensure_cursor(self.db, self.source)
        async with self.db.sessionmaker() as session:
            cursor = await _locked_cursor(session, self.source)
            cursor.last_attempt_at = now()
            cursor.last_error = error[:500]
            cursor.consecutive_failures += 1
            failures = cursor.consecutive_failures
            await session.commit()
        return failures


def make_readers(
    db: Database,
    settings: ReportingSettings,
    auth_settings: AuthSettings,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    sources: list[str] | None = None,
) -> list[FeedReader]:
    readers = []
    for source, url in settings.feed_urls().items():
        if sources is not None and source not in sources:
            continue
        client = make_client(
            url,
            timeout=httpx.Timeout(settings.http_timeout_seconds * 6, connect=2.0),
            transport=(transports or {}).get(source),
        )
        readers.append(FeedReader(db, source, client, auth_settings, settings.sync_page_size))
    return readers


class SyncWorker:
    """Keeps every source caught up: a short pause when idle, exponential backoff when down."""

    def __init__(
        self,
        readers: list[FeedReader],
        interval: float,
        max_backoff: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.readers = readers
        self.interval = interval
        self.max_backoff = max_backoff
        self.sleep = sleep

    async def step(self, reader: FeedReader) -> float:
        """One catch-up attempt; returns how long to wait before the next one."""
        try:
            applied = await reader.catch_up()
        except FeedUnavailable as exc:
            failures = await reader.record_failure(str(exc))
            delay = backoff_delay(failures, self.interval, self.max_backoff)
            log.warning(
                "feed unavailable; serving the last data",
                extra={"source": reader.source, "error": str(exc), "retry_in_s": delay},
            )
            return delay
        except Exception as exc:
            log.exception("sync failed", extra={"source": reader.source})
            try:
                failures = await reader.record_failure(f"{type(exc).__name__}: {exc}")
            except Exception:
                failures = 1
            return backoff_delay(failures, self.interval, self.max_backoff)
        if applied:
            log.info("applied events", extra={"source": reader.source, "events": applied})
        return self.interval

    async def run_reader(self, reader: FeedReader, iterations: int | None = None) -> None:
        done = 0
        while iterations is None or done < iterations:
            delay = await self.step(reader)
            done += 1
            if iterations is None or done < iterations:
                await self.sleep(delay)

    async def run(self) -> None:
        await asyncio.gather(*(self.run_reader(reader) for reader in self.readers))

    async def close(self) -> None:
        for reader in self.readers:
            await reader.client.aclose()
