"""`bw sync`: pull the assessment and training change feeds into reporting once, then exit."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from bw.databases import service_database
from services.common.settings import AuthSettings
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import FeedUnavailable, backoff_delay, make_readers
from services.reporting.vocabulary import FEED_SOURCES

console = Console(stderr=True)


async def sync_once(
    sources: list[str], page_size: int | None, retries: int, base_delay: float
) -> dict[str, int | str]:
    settings = ReportingSettings()
    if page_size:
        settings.sync_page_size = page_size
    target = service_database("reporting")
    db = target.open()
    outcome: dict[str, int | str] = {}
    try:
        for reader in make_readers(db, settings, AuthSettings(), sources=sources):
            async with reader.client:
                for attempt in range(retries + 1):
                    try:
                        outcome[reader.source] = await reader.catch_up()
                        if reader.rebuilt:
                            console.print(
                                f"[yellow]{reader.source}[/]: the feed no longer holds what "
                                "reporting applied (a source restored from an older backup?); "
                                "rebuilt that part of the read model from the feed"
                            )
                        break
                    except FeedUnavailable as exc:
                        failures = await reader.record_failure(str(exc))
                        outcome[reader.source] = f"unavailable: {exc}"
                        if attempt < retries:
                            delay = backoff_delay(failures, base_delay, 30.0)
                            console.print(f"[yellow]{reader.source}[/] {exc}; retry in {delay:g}s")
                            await asyncio.sleep(delay)
    finally:
        await db.dispose()
    return outcome


def sync(
    source: Annotated[
        list[str] | None, typer.Option(help="Feed to pull (assessment, training); default both.")
    ] = None,
    page_size: Annotated[int | None, typer.Option(help="Events per page.")] = None,
    retries: Annotated[int, typer.Option(help="Retries of a source that is down.")] = 3,
    delay: Annotated[float, typer.Option(help="First retry delay in seconds.")] = 1.0,
) -> None:
    """Apply every pending change-feed event to reporting's read model (resumable at any point)."""
    unknown = set(source or []) - set(FEED_SOURCES)
    if unknown:
        raise typer.BadParameter(f"unknown source(s): {', '.join(sorted(unknown))}")
    with service_database("reporting").working():
        outcome = asyncio.run(sync_once(source or list(FEED_SOURCES), page_size, retries, delay))
    failed = False
    for name, result in outcome.items():
        if isinstance(result, int):
            console.print(f"[green]{name}[/]: applied {result} events")
        else:
            failed = True
            console.print(f"[red]{name}[/]: {result}")
    if failed:
        raise typer.Exit(1)
