"""Cursor (keyset) pagination: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

Cursors are opaque to clients (URL-safe base64 of the last key seen), and stable under inserts,
unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, Select, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine

from services.common.problems import Problem

T = TypeVar("T")

MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; named after its items in the OpenAPI document (``FactoryPage``)."""

    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return readable_generic_name(params, "Page")


def readable_generic_name(params: tuple[Any, ...], kind: str) -> str:
    """``Page[FactoryRead]`` -> ``FactoryPage``: the name generated clients use for the type,
    instead of pydantic's ``Page_FactoryRead_``."""
    names = [getattr(p, "__name__", str(p)) for p in params]
    return "".join(name.removesuffix("Read") for name in names) + kind


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Items per page (1-500)."),
    cursor: str | None = Query(None, max_length=512, description="`next_cursor` of the last page."),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            400, "The cursor is not one this API issued.", title="Invalid cursor"
        ) from exc


def _fits_key(after: Any, key_type: TypeEngine[Any]) -> bool:
    """Whether a decoded cursor is a value the key column can hold: a cursor is client input,
    and a huge number (SQLite and PostgreSQL overflow), a string for an integer key
    (PostgreSQL refuses the comparison) or text with NUL must be a 400 before it reaches SQL."""
    while isinstance(key_type, TypeDecorator):  # SQLModel's AutoString wraps a String
        key_type = key_type.impl_instance
    if isinstance(key_type, Integer):
        if isinstance(after, bool) or not isinstance(after, int):
            return False
        # Keys start at 1; the widest integer column the platform declares is 64-bit.
        return 0 <= after <= (2**63 - 1 if isinstance(key_type, BigInteger) else 2**31 - 1)
    if isinstance(key_type, String):
        return isinstance(after, str) and _storable(after)
    return isinstance(after, str | int) and not isinstance(after, bool)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate
        return False
    return True


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    key_column: InstrumentedAttribute[Any],
    params: PageParams,
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` ordered by a unique key, one page after the cursor; rows and next cursor."""
    if params.cursor is not None:
        after = decode_cursor(params.cursor)
        if not _fits_key(after, key_column.type):
            raise Problem(400, "The cursor is not one this API issued.", title="Invalid cursor")
        stmt = stmt.where(key_column > after)
    stmt = stmt.order_by(key_column).limit(params.limit + 1)
    rows = (await session.execute(stmt)).scalars().all()
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        next_cursor = encode_cursor(getattr(rows[-1], key_column.key))
    return rows, next_cursor
