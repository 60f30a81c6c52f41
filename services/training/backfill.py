"""Fills in the country of rows written before training rows recorded one.

The migration that added ``country`` (c3d4e5f6a7b8) can fill old rows only with a country the
operator names: a factory's country lives in the assessment service, which a migration cannot ask.
Rows it leaves empty are seen only by callers without a country limit; this module completes them
from the assessment service, with the training service's own ``service`` token, when the service
starts (in the background, retrying while the assessment service is not up yet). Idempotent: it
touches only rows whose country is still empty. Seminars have no factory to ask about; an admin
sets their country with PATCH.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import Database
from services.common.problems import Problem
from services.training.assessment_client import (
    AssessmentClient,
    References,
    assessment_http,
    service_token,
)
from services.training.models import (
    AdvisoryVisit,
    Committee,
    ImprovementItem,
    ImprovementPlan,
    SessionFactory,
    TrainingSession,
)

log = logging.getLogger(__name__)

FACTORY_OWNED: tuple[Any, ...] = (AdvisoryVisit, Committee, ImprovementPlan)
RETRY_SECONDS = 5.0
ATTEMPTS = 60


async def fill_missing_countries(session: AsyncSession, references: References) -> int:
    """Give every row without a country its factory's (or its plan's); the rows filled."""
    owned: dict[Any, set[str]] = {}
    for model in FACTORY_OWNED:
        stmt = select(col(model.factory_id)).where(col(model.country).is_(None)).distinct()
        owned[model] = set((await session.execute(stmt)).scalars())
    session_factories: dict[str, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(col(SessionFactory.session_id), col(SessionFactory.factory_id))
        .join(TrainingSession, col(TrainingSession.id) == SessionFactory.session_id)
        .where(col(TrainingSession.country).is_(None))
    )
    for session_id, factory_id in rows:
        session_factories[session_id].add(factory_id)
    wanted = set().union(*owned.values(), *session_factories.values())
    countries = await references.factory_countries(sorted(wanted)) if wanted else {}
    filled = 0
    for model, factory_ids in owned.items():
        for factory_id in sorted(factory_ids & set(countries)):
            result: Any = await session.execute(
                update(model)
                .where(col(model.factory_id) == factory_id, col(model.country).is_(None))
                .values(country=countries[factory_id])
            )
            filled += result.rowcount or 0
    for session_id, factory_ids in session_factories.items():
        found = {countries.get(f) for f in factory_ids}
        if len(found) == 1 and None not in found:
            result = await session.execute(
                update(TrainingSession)
                .where(col(TrainingSession.id) == session_id)
                .values(country=found.pop())
            )
            filled += result.rowcount or 0
    filled += await _items_follow_their_plans(session)
    await session.commit()
    return filled


async def _items_follow_their_plans(session: AsyncSession) -> int:
    plans = await session.execute(
        select(col(ImprovementPlan.id), col(ImprovementPlan.country))
        .join(ImprovementItem, col(ImprovementItem.plan_id) == ImprovementPlan.id)
        .where(col(ImprovementItem.country).is_(None), col(ImprovementPlan.country).is_not(None))
        .distinct()
    )
    filled = 0
    for plan_id, country in plans:
        result: Any = await session.execute(
            update(ImprovementItem)
            .where(col(ImprovementItem.plan_id) == plan_id, col(ImprovementItem.country).is_(None))
            .values(country=country)
        )
        filled += result.rowcount or 0
    return filled


async def _fill_when_assessment_answers(app: FastAPI) -> None:
    database: Database = app.state.db
    for _ in range(ATTEMPTS):
        client = AssessmentClient(assessment_http(app), service_token(app))
        try:
            async with database.sessionmaker() as session:
                filled = await fill_missing_countries(session, client)
            if filled:
                log.info("recorded the country of %d training rows", filled)
            return
        except Problem as problem:
            log.info("country backfill waits for the assessment service: %s", problem.detail)
        except Exception:  # e.g. the database is not migrated yet: try again later
            log.exception("country backfill failed; retrying")
        await asyncio.sleep(RETRY_SECONDS)
    log.warning("country backfill gave up; rows without a country stay hidden from scoped staff")


@asynccontextmanager
async def backfill_in_background(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: run the backfill beside the service (``app.state.country_backfill``),
    cancelled when it stops."""
    task = asyncio.create_task(_fill_when_assessment_answers(app))
    app.state.country_backfill = task
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # a failed backfill must not fail shutdown
            log.exception("country backfill failed")
