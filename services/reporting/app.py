"""The reporting service: a read model fed by the assessment and training change feeds, the
Better Work non-compliance methodology, and the annual report."""

import httpx
from fastapi import FastAPI

from services.common.app import create_service_app, get_read_session
from services.common.audit import audit_router
from services.common.db import Database
from services.common.outbox import changes_router
from services.common.settings import AuthSettings
from services.reporting.models import IdempotencyRecord, OutboxEvent
from services.reporting.settings import ReportingSettings


def create_app(
    settings: ReportingSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
    feed_transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``feed_transports`` lets tests serve the source feeds in-process, ``webhook_transport``
    the webhook receivers."""
    from services.reporting.activity.router import router as activity_router
    from services.reporting.annual.router import router as annual_router
    from services.reporting.compliance.router import router as compliance_router
    from services.reporting.freshness.readiness import feeds_readiness
    from services.reporting.freshness.router import router as freshness_router
    from services.reporting.sync.lifespan import sync_lifespan
    from services.reporting.webhooks.router import router as webhooks_router

    return create_service_app(
        title="reporting",
        description=__doc__ or "",
        settings=settings or ReportingSettings(),
        database=database,
        auth_settings=auth_settings,
        idempotency_model=IdempotencyRecord,
        readiness_checks={"feeds": feeds_readiness},
        extra_lifespan=sync_lifespan(feed_transports, webhook_transport),
        routers=[
            freshness_router,
            compliance_router,
            activity_router,
            annual_router,
            webhooks_router,
            changes_router(OutboxEvent, get_read_session),
            audit_router(OutboxEvent, "reporting", get_read_session),
        ],
    )
