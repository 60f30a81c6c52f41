"""The reporting service: a read model fed by the assessment and training change feeds, the
Better Work non-compliance methodology, and the annual report."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.db import Database
from services.common.settings import AuthSettings
from services.reporting.models import IdempotencyRecord
from services.reporting.settings import ReportingSettings


def create_app(
    settings: ReportingSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    from services.reporting.freshness.router import router as freshness_router

    return create_service_app(
        title="reporting",
        description=__doc__ or "",
        settings=settings or ReportingSettings(),
        database=database,
        auth_settings=auth_settings,
        idempotency_model=IdempotencyRecord,
        routers=[freshness_router],
    )
