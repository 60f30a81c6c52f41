"""Brand rules: a brand token sees only its own brand; programme staff manage brands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.access import hidden
from services.assessment.brands.schemas import BrandCreate, BrandUpdate
from services.assessment.events import emit
from services.assessment.models import Brand
from services.common.auth import Principal, Role
from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem
from services.common.text_filters import text_starts_with

# The orders this list offers (``sort``); ties fall back to the unique key.
BRAND_SORTING = Sorting(
    Brand.id,
    name=Brand.name,
    type=Brand.type,
    created_at=Brand.created_at,
    updated_at=Brand.updated_at,
)


def snapshot(brand: Brand) -> dict[str, Any]:
    return {"id": brand.id, "name": brand.name, "type": brand.type, "version": brand.version}


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.BRAND:
        return col(Brand.id) == principal.brand_id
    return true()


async def create_brand(session: AsyncSession, data: BrandCreate) -> Brand:
    brand = Brand(id=new_id("brd"), name=data.name, type=data.type)
    session.add(brand)
    await session.flush()
    await emit(session, "brand.created", brand.id, snapshot(brand))
    await session.commit()
    return brand


async def get_brand(session: AsyncSession, brand_id: str, principal: Principal) -> Brand:
    stmt = select(Brand).where(col(Brand.id) == brand_id, _visible(principal))
    brand = (await session.execute(stmt)).scalar_one_or_none()
    if brand is None:
        raise hidden("Brand", brand_id)
    return brand


async def update_brand(session: AsyncSession, brand: Brand, data: BrandUpdate) -> Brand:
    changes = data.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise Problem(422, "name and type cannot be null.", title="Validation failed")
    await commit_update(
        session, brand, changes, lambda: emit(session, "brand.updated", brand.id, snapshot(brand))
    )
    return brand


async def list_brands(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    name_prefix: str | None = None,
) -> tuple[list[Brand], str | None]:
    stmt = select(Brand).where(_visible(principal))
    if name_prefix:
        stmt = stmt.where(text_starts_with(name_prefix, Brand.name))
    rows, next_cursor = await paginate(session, stmt, BRAND_SORTING, params)
    return list(rows), next_cursor
