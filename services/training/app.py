"""The training service: courses, sessions and attendance, advisory visits, committees,
improvement plans, seminars."""

from fastapi import FastAPI

from services.common.app import create_service_app, get_read_session
from services.common.db import Database
from services.common.outbox import changes_router
from services.common.settings import AuthSettings
from services.training.models import IdempotencyRecord, OutboxEvent
from services.training.settings import TrainingSettings


def create_app(
    settings: TrainingSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    from services.training.courses.router import router as courses_router

    return create_service_app(
        title="training",
        description=__doc__ or "",
        settings=settings or TrainingSettings(),
        database=database,
        auth_settings=auth_settings,
        idempotency_model=IdempotencyRecord,
        routers=[courses_router, changes_router(OutboxEvent, get_read_session)],
    )
