"""Factory rules: registration, profile updates, search, and who may see which factory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from services.assessment.access import factory_filter, hidden, require_country
from services.assessment.events import emit
from services.assessment.factories.schemas import (
    FactoryCreate,
    FactoryUpdate,
)
from services.assessment.models import Brand, Factory
from services.common.auth import Principal
from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.pagination import PageParams, Sorting, paginate, select_rows
from services.common.problems import Problem
from services.common.text_filters import text_equals, text_starts_with

# The orders this list offers (``sort``); ties fall back to the unique key.
FACTORY_SORTING = Sorting(
    Factory.id,
    name=Factory.name,
    country=Factory.country,
    participation_status=Factory.participation_status,
    created_at=Factory.created_at,
    updated_at=Factory.updated_at,
)


def snapshot(factory: Factory) -> dict[str, Any]:
    """The change-feed payload (docs/change-feed.md), plus a few additive fields."""
    return {
        "id": factory.id,
        "name": factory.name,
        "name_uz": factory.name_uz,
        "name_ru": factory.name_ru,
        "country": factory.country,
        "region": factory.region,
        "address": factory.address,
        "sector": factory.sector,
        "ownership": factory.ownership,
        "export_markets": list(factory.export_markets),
        "workforce_total": factory.workforce_total,
        "workforce_women": factory.workforce_women,
        "workforce_men": factory.workforce_men,
        "workforce_migrants": factory.workforce_migrants,
        "participation_status": factory.participation_status,
        "participation_start": (
            factory.participation_start.isoformat() if factory.participation_start else None
        ),
        "buyer_brand_ids": list(factory.buyer_brand_ids),
        "version": factory.version,
    }


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    workforce = values.pop("workforce", None)
    if workforce is not None:
        for part in ("total", "women", "men", "migrants"):
            values[f"workforce_{part}"] = workforce.get(part)
    return values


async def _check_brands(session: AsyncSession, brand_ids: list[str]) -> None:
    if not brand_ids:
        return
    found = set(
        (await session.execute(select(col(Brand.id)).where(col(Brand.id).in_(brand_ids)))).scalars()
    )
    missing = [b for b in dict.fromkeys(brand_ids) if b not in found]
    if missing:
        raise Problem(
            422,
            f"Unknown buyer brands: {', '.join(missing)}.",
            title="Validation failed",
            errors=[
                {
                    "location": "body.buyer_brand_ids",
                    "message": f"No brand {b!r}",
                    "type": "unknown",
                }
                for b in missing
            ],
        )


async def create_factory(
    session: AsyncSession, data: FactoryCreate, principal: Principal
) -> Factory:
    require_country(principal, data.country)
    await _check_brands(session, data.buyer_brand_ids)
    factory = Factory(id=new_id("fac"), **_flatten(data.model_dump()))
    session.add(factory)
    await session.flush()
    await emit(session, "factory.created", factory.id, snapshot(factory))
    await session.commit()
    return factory


async def get_factory(session: AsyncSession, factory_id: str, principal: Principal) -> Factory:
    """The factory if the caller may see it; 404 otherwise (missing and hidden look alike)."""
    stmt = select(Factory).where(col(Factory.id) == factory_id, factory_filter(principal))
    factory = (await session.execute(stmt)).scalar_one_or_none()
    if factory is None:
        raise hidden("Factory", factory_id)
    return factory


async def update_factory(
    session: AsyncSession,
    factory: Factory,
    data: FactoryUpdate,
) -> Factory:
    changes = _flatten(data.model_dump(exclude_unset=True, mode="python"))
    for required in ("name", "participation_status"):
        if required in changes and changes[required] is None:
            raise Problem(422, f"{required} cannot be null.", title="Validation failed")
    if "buyer_brand_ids" in changes:
        await _check_brands(session, changes["buyer_brand_ids"] or [])
        changes["buyer_brand_ids"] = changes["buyer_brand_ids"] or []
    if "export_markets" in changes:
        changes["export_markets"] = changes["export_markets"] or []
    await commit_update(
        session,
        factory,
        changes,
        lambda: emit(session, "factory.updated", factory.id, snapshot(factory)),
    )
    return factory


async def list_factories(
    connection: AsyncConnection,
    params: PageParams,
    principal: Principal,
    *,
    country: str | None = None,
    region: str | None = None,
    status: str | None = None,
    name_prefix: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """A page of the factories the caller may see, as rows of the table: the list answers
    read models only, so the ORM's objects would be built for nothing."""
    stmt = select_rows(Factory).where(factory_filter(principal))
    if country:
        stmt = stmt.where(col(Factory.country) == country)
    if region:
        stmt = stmt.where(text_equals(Factory.region, region))
    if status:
        stmt = stmt.where(col(Factory.participation_status) == status)
    if name_prefix:
        stmt = stmt.where(
            text_starts_with(name_prefix, Factory.name, Factory.name_uz, Factory.name_ru)
        )
    rows, next_cursor = await paginate(connection, stmt, FACTORY_SORTING, params)
    return list(rows), next_cursor
