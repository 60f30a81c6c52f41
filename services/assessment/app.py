"""The assessment service: factories, brands and consent, the CAT, assessments and findings."""

from fastapi import FastAPI

from services.assessment.models import IdempotencyRecord, OutboxEvent
from services.assessment.settings import AssessmentSettings
from services.common.app import create_service_app, get_read_session
from services.common.audit import audit_router
from services.common.db import Database
from services.common.outbox import changes_router
from services.common.settings import AuthSettings


def create_app(
    settings: AssessmentSettings | None = None,
    database: Database | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    from services.assessment.assessments.router import router as assessments_router
    from services.assessment.brands.router import router as brands_router
    from services.assessment.catalogs.router import router as catalogs_router
    from services.assessment.consents.router import router as consents_router
    from services.assessment.factories.router import router as factories_router
    from services.assessment.findings.router import router as findings_router

    return create_service_app(
        title="assessment",
        description=__doc__ or "",
        settings=settings or AssessmentSettings(),
        database=database,
        auth_settings=auth_settings,
        idempotency_model=IdempotencyRecord,
        routers=[
            factories_router,
            consents_router,
            brands_router,
            catalogs_router,
            assessments_router,
            findings_router,
            changes_router(OutboxEvent, get_read_session),
            audit_router(OutboxEvent, "assessment", get_read_session),
        ],
    )
