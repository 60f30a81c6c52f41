"""Brings reporting in line with the sources' feeds right here, without the platform running:
the source apps serve their change feeds in-process, and reporting's own sync reads them (the
same HTTP contract, so no service reads another's tables). Used after a restore."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bw.databases import service_database
from services.assessment.app import create_app as create_assessment
from services.assessment.settings import AssessmentSettings
from services.common.db import Database
from services.common.settings import AuthSettings
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from services.training.app import create_app as create_training
from services.training.settings import TrainingSettings


@dataclass(frozen=True)
class FeedOutcome:
    source: str
    rebuilt: bool
    applied: int

    @property
    def line(self) -> str:
        if self.rebuilt:
            return (
                f"{self.source}: reporting held events the restored feed no longer has; "
                f"rebuilt its {self.source} data from the feed ({self.applied} events)"
            )
        return f"{self.source}: reporting consistent with the feed, applied {self.applied} events"


async def resync(databases: dict[str, Database], auth: AuthSettings) -> list[FeedOutcome]:
    """Sync ``databases["reporting"]`` from the feeds of the assessment and training databases."""
    apps = {
        "assessment": create_assessment(AssessmentSettings(), databases["assessment"], auth),
        "training": create_training(TrainingSettings(), databases["training"], auth),
    }
    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.ASGITransport(app=app) for name, app in apps.items()
    }
    outcomes = []
    for reader in make_readers(databases["reporting"], ReportingSettings(), auth, transports):
        async with reader.client:
            applied = await reader.catch_up()
        outcomes.append(FeedOutcome(reader.source, reader.rebuilt, applied))
    return outcomes


async def resync_reporting(auth: AuthSettings | None = None) -> list[FeedOutcome]:
    """:func:`resync` on the databases the environment configures."""
    databases: dict[str, Database] = {
        name: service_database(name).open() for name in ("assessment", "training", "reporting")
    }
    try:
        return await resync(databases, auth or AuthSettings())
    finally:
        for database in databases.values():
            await database.dispose()
