"""Consent rules: at most one active grant per factory and brand; revoking keeps the row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.events import emit
from services.assessment.models import Brand, Consent, Factory
from services.common.auth import Principal
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, already_exists, conflict, not_found

# The orders this list offers (``sort``); ties fall back to the unique key.
CONSENT_SORTING = Sorting(Consent.id, brand_id=Consent.brand_id, granted_at=Consent.granted_at)


def snapshot(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "factory_id": consent.factory_id,
        "brand_id": consent.brand_id,
        "granted_at": consent.granted_at.isoformat(),
        "revoked_at": consent.revoked_at.isoformat() if consent.revoked_at else None,
    }


async def _lock_factory(session: AsyncSession, factory_id: str) -> None:
    """Serialise consent changes of one factory (PostgreSQL; SQLite writers queue anyway)."""
    await session.execute(
        select(col(Factory.id)).where(col(Factory.id) == factory_id).with_for_update()
    )


async def grant(
    session: AsyncSession, factory: Factory, brand_id: str, principal: Principal
) -> Consent:
    if await session.get(Brand, brand_id) is None:
        raise Problem(
            422,
            f"Brand {brand_id!r} does not exist.",
            title="Validation failed",
            errors=[{"location": "body.brand_id", "message": "unknown brand", "type": "unknown"}],
        )
    await _lock_factory(session, factory.id)
    active = await session.execute(
        select(col(Consent.id)).where(
            col(Consent.factory_id) == factory.id,
            col(Consent.brand_id) == brand_id,
            col(Consent.revoked_at).is_(None),
        )
    )
    existing = active.scalar_one_or_none()
    if existing is not None:
        raise already_exists(
            f"Factory {factory.id} already shares with brand {brand_id} (consent {existing}).",
            consent_id=existing,
        )
    consent = Consent(
        id=new_id("cns"), factory_id=factory.id, brand_id=brand_id, granted_by=principal.subject
    )
    session.add(consent)
    await session.flush()
    await emit(session, "consent.granted", consent.id, snapshot(consent))
    await session.commit()
    return consent


async def revoke(
    session: AsyncSession, factory: Factory, consent_id: str, principal: Principal
) -> Consent:
    await _lock_factory(session, factory.id)
    consent = await session.get(Consent, consent_id, populate_existing=True)
    if consent is None or consent.factory_id != factory.id:
        raise not_found("Consent", consent_id)
    if consent.revoked_at is not None:
        raise conflict(f"Consent {consent_id} was already revoked at {consent.revoked_at}.")
    consent.revoked_at = utcnow()
    consent.revoked_by = principal.subject
    await session.flush()
    await emit(session, "consent.revoked", consent.id, snapshot(consent))
    await session.commit()
    return consent


async def list_consents(
    session: AsyncSession, factory_id: str, params: PageParams, *, active: bool | None = None
) -> tuple[list[Consent], str | None]:
    stmt = select(Consent).where(col(Consent.factory_id) == factory_id)
    if active is True:
        stmt = stmt.where(col(Consent.revoked_at).is_(None))
    elif active is False:
        stmt = stmt.where(col(Consent.revoked_at).is_not(None))
    rows, next_cursor = await paginate(session, stmt, CONSENT_SORTING, params)
    return list(rows), next_cursor
