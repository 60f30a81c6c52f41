"""The training service: courses, sessions and attendance, advisory visits, committees,
improvement plans, seminars."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.app import create_service_app, get_read_session
from services.common.audit import audit_router
from services.common.db import Database
from services.common.outbox import changes_router
from services.common.settings import AuthSettings
from services.training.assessment_client import assessment_http_lifespan
from services.training.backfill import backfill_in_background
from services.training.models import IdempotencyRecord, OutboxEvent
from services.training.settings import TrainingSettings


@asynccontextmanager
async def training_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The client of the assessment service for the app's life, and the country backfill that
    uses it (stopped before the client closes)."""
    async with assessment_http_lifespan(app), backfill_in_background(app):
        yield


def create_app(
    settings: TrainingSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
    assessment_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``assessment_transport`` replaces the network to the assessment service (tests)."""
    from services.training.advisory_visits.router import router as advisory_router
    from services.training.committees.router import router as committees_router
    from services.training.courses.router import router as courses_router
    from services.training.improvement_plans.router import router as plans_router
    from services.training.seminars.router import router as seminars_router
    from services.training.training_sessions.router import router as sessions_router

    app = create_service_app(
        title="training",
        description=__doc__ or "",
        settings=settings or TrainingSettings(),
        database=database,
        auth_settings=auth_settings,
        idempotency_model=IdempotencyRecord,
        extra_lifespan=training_lifespan,
        routers=[
            courses_router,
            sessions_router,
            advisory_router,
            committees_router,
            plans_router,
            seminars_router,
            changes_router(OutboxEvent, get_read_session),
            audit_router(OutboxEvent, "training", get_read_session),
        ],
    )
    app.state.assessment_transport = assessment_transport
    return app
