"""Cursor (keyset) pagination: ``?limit=&cursor=&sort=&include_total=`` in, ``{items,
next_cursor, total}`` out.

Cursors are opaque to clients (URL-safe base64 of the last position seen), and stable under
inserts, unlike offsets. A list sorts by the fields its :class:`Sorting` names (``-`` for
descending), then by its unique key in the same direction, so ties never lose or repeat a row:
the cursor of a sorted page is ``[sort, value, key]`` of its last row, and the next page starts
strictly after that pair. Without ``sort`` a list is in key order and its cursor is the bare key,
as before sorting existed. Columns that may be NULL are not offered (databases disagree on where
NULLs sort), and :class:`Sorting` refuses them when it is built.

A list that only turns its rows into read models selects the table, not the ORM entity
(``select_rows(Factory)``): :func:`paginate` then returns Core rows, read by attribute like the
objects, without the identity map, instance state and attribute instrumentation the ORM builds
for each row (about a sixth of a 20-row list's cost, bench/history.md "Per-request cost").

A list whose items are plain dicts answers :func:`page_response`: the page is validated by its
declared model in one call and dumped to JSON once, instead of one model per row and FastAPI
validating and dumping the returned page again. The route keeps ``response_model=Page[X]``,
so its OpenAPI document is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, Generic, TypeVar

from fastapi import Query, Response
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine

from services.common.problems import Problem

T = TypeVar("T")

MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; named after its items in the OpenAPI document (``FactoryPage``)."""

    items: list[T]
    next_cursor: str | None = None
    total: int | None = Field(
        default=None, description="How many items the list holds; only with `include_total=true`."
    )

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return readable_generic_name(params, "Page")


@cache
def _page_adapter(model: type[Page[Any]]) -> TypeAdapter[Page[Any]]:
    return TypeAdapter(model)


def page_response(
    model: type[Page[Any]],
    items: Sequence[Mapping[str, Any]],
    next_cursor: str | None,
    total: int | None = None,
) -> Response:
    """A page as the JSON its declared model (the route's ``response_model``) gives, built in
    one pass: the items (dicts of the item model's fields) are validated together with the page
    and dumped as FastAPI would (``by_alias``), without a model per row and a second validation.
    Invalid items raise pydantic's ValidationError, a 500, as a bad response model would."""
    adapter = _page_adapter(model)
    page = adapter.validate_python({"items": items, "next_cursor": next_cursor, "total": total})
    return Response(adapter.dump_json(page, by_alias=True), media_type="application/json")


def readable_generic_name(params: tuple[Any, ...], kind: str) -> str:
    """``Page[FactoryRead]`` -> ``FactoryPage``: the name generated clients use for the type,
    instead of pydantic's ``Page_FactoryRead_``."""
    names = [getattr(p, "__name__", str(p)) for p in params]
    return "".join(name.removesuffix("Read") for name in names) + kind


class PageParams(BaseModel):
    """One list request's paging; ``total`` is filled in by :func:`paginate` when asked for."""

    limit: int
    cursor: str | None
    sort: str | None = None
    include_total: bool = False
    total: int | None = None


SORT_EXTENSION = "x-sort-values"
_LIMIT_DESCRIPTION = "Items per page (1-500)."
_CURSOR_DESCRIPTION = "`next_cursor` of the last page (with the same `sort`)."
_TOTAL_DESCRIPTION = "`true`: the page's `total` counts every item of the list (one more query)."


def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description=_LIMIT_DESCRIPTION),
    cursor: str | None = Query(None, max_length=512, description=_CURSOR_DESCRIPTION),
) -> PageParams:
    """Paging without a sort order (lists use :attr:`Sorting.page_params`)."""
    return PageParams(limit=limit, cursor=cursor)


_SORTABLE_TYPES = (String, Integer, Date, DateTime)


def _column_type(column: InstrumentedAttribute[Any]) -> TypeEngine[Any]:
    key_type: TypeEngine[Any] = column.type
    while isinstance(key_type, TypeDecorator):  # SQLModel's AutoString, UTCDateTime
        key_type = key_type.impl_instance
    return key_type


class Sorting:
    """The sort orders one list offers: its unique key and the fields it may be sorted by.

    ``Sorting(Factory.id, name=Factory.name)`` accepts ``sort=id``, ``-id``, ``name``, ``-name``;
    without ``sort`` the list is in key order. Routers take ``Depends(SORTING.page_params)``,
    which declares ``sort`` (its values listed in the OpenAPI document) and ``include_total``,
    and service functions pass the same object to :func:`paginate`.
    """

    def __init__(self, key: Any, *, key_name: str = "id", **fields: Any) -> None:
        self.key: InstrumentedAttribute[Any] = key
        self.fields: dict[str, InstrumentedAttribute[Any]] = {key_name: key, **fields}
        for name, column in self.fields.items():
            if _nullable(column):
                raise ValueError(f"sort field {name!r} may be NULL: do not offer it")
            if not isinstance(_column_type(column), _SORTABLE_TYPES):
                raise ValueError(f"sort field {name!r} is of a type cursors cannot carry")
        self.values = [v for name in self.fields for v in (name, "-" + name)]
        self.page_params = self._dependency()

    def _dependency(self) -> Callable[..., Awaitable[PageParams]]:
        values = self.values
        names = ", ".join(f"`{name}`" for name in self.fields)
        key_name = next(iter(self.fields))

        # async: FastAPI runs a plain def dependency on its thread pool, a thread trip per list.
        async def sorted_page_params(
            limit: int = Query(50, ge=1, le=MAX_LIMIT, description=_LIMIT_DESCRIPTION),
            cursor: str | None = Query(None, max_length=512, description=_CURSOR_DESCRIPTION),
            sort: str | None = Query(
                None,
                max_length=64,
                description=f"Sort by {names}; prefix `-` for descending. Ties are broken by "
                f"`{key_name}` in the same direction. Default: `{key_name}` ascending.",
                json_schema_extra={SORT_EXTENSION: values},
            ),
            include_total: bool = Query(False, description=_TOTAL_DESCRIPTION),
        ) -> PageParams:
            self.check(sort)
            return PageParams(limit=limit, cursor=cursor, sort=sort, include_total=include_total)

        return sorted_page_params

    def check(self, sort: str | None) -> None:
        """400 ``invalid-sort`` listing what the list accepts, for a sort it does not."""
        if sort is not None and sort not in self.values:
            raise Problem(
                400,
                f"This list cannot be sorted by {sort!r}; use one of: {', '.join(self.values)}.",
                kind="invalid-sort",
                errors=[{"location": "/query/sort", "message": "Not a sort this list offers."}],
                allowed=self.values,
            )


def _nullable(column: InstrumentedAttribute[Any]) -> bool:
    return any(c.nullable for c in getattr(column.property, "columns", ()))


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "The cursor is not one this API issued.", kind="invalid-cursor") from exc


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


def _from_cursor(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    """A sort value from a cursor as the column compares it; None when it cannot be one."""
    column_type = _column_type(column)
    if isinstance(column_type, DateTime | Date):
        if not isinstance(value, str) or not value.isascii():
            return None
        try:
            if isinstance(column_type, DateTime):
                moment = datetime.fromisoformat(value)
                return moment if moment.tzinfo is not None else None  # stored in UTC
            return date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(column_type, Integer):
        # Sort values are not keys: a count may be 0 or negative, but must fit 64 bits.
        fits = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        return value if fits else None
    return value if _fits_key(value, column_type) else None


def _to_cursor(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate
        return False
    return True


async def paginate(
    session: AsyncSession | AsyncConnection,
    stmt: Select[Any],
    order: Sorting | InstrumentedAttribute[Any],
    params: PageParams,
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` in the requested order, one page after the cursor; rows and next cursor.

    The rows are ORM objects for ``select(Model)``, Core rows for ``select_rows(Model)``.
    ``order`` is the list's :class:`Sorting` (or, for a list without one, its unique key).
    With ``include_total`` the count of the whole filtered list is left in ``params.total``.
    """
    sorting = order if isinstance(order, Sorting) else None
    key: InstrumentedAttribute[Any] = order.key if isinstance(order, Sorting) else order
    if params.include_total:
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        params.total = (await session.execute(counted)).scalar_one()
    if params.sort is None:
        column, descending = key, False
    else:
        if sorting is None:
            raise Problem(400, "This list cannot be sorted.", kind="invalid-sort")
        sorting.check(params.sort)
        descending = params.sort.startswith("-")
        column = sorting.fields[params.sort.removeprefix("-")]
    if params.cursor is not None:
        stmt = stmt.where(
            _after(decode_cursor(params.cursor), params.sort, column, key, descending)
        )
    if descending:
        stmt = stmt.order_by(column.desc(), key.desc())
    else:
        stmt = stmt.order_by(column, key) if column is not key else stmt.order_by(key)
    stmt = stmt.limit(params.limit + 1)
    rows = await _fetch(session, stmt)
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last_key = getattr(rows[-1], key.key)
        if params.sort is None:
            next_cursor = encode_cursor(last_key)
        else:
            last_value = _to_cursor(getattr(rows[-1], column.key))
            next_cursor = encode_cursor([params.sort, last_value, last_key])
    return rows, next_cursor


async def _fetch(session: AsyncSession | AsyncConnection, stmt: Select[Any]) -> Sequence[Any]:
    """The objects of ``select(Model)``; the rows of ``select_rows(Model)``, executed on the
    session's connection: values for read models need none of the ORM's execution layer
    (``session.execute`` costs a third more, loading rows it only passes through)."""
    rows: Sequence[Any]
    if isinstance(session, AsyncConnection):
        if not stmt.get_execution_options().get(_ROWS):
            raise TypeError("a Core connection reads rows: build the list with select_rows")
        rows = (await session.execute(stmt)).all()
        return rows
    if not stmt.get_execution_options().get(_ROWS):
        rows = (await session.execute(stmt)).scalars().all()
        return rows
    if session.new or session.dirty or session.deleted:
        await session.flush()  # what session.execute would have done first
    connection = await session.connection()
    rows = (await connection.execute(stmt)).all()
    return rows


def select_rows(model: Any) -> Select[Any]:
    """``SELECT`` of a table model's columns, fetched as Core rows (``row.name``, as on the
    object): for a list whose rows only become read models. Filter and order it like
    ``select(model)``; its rows are plain values, never tracked or changed by the session."""
    table: Table = model.__table__
    return select(table).execution_options(**{_ROWS: True})


# Marks a statement of select_rows (an execution option: kept by .where() and .order_by(), and
# ignored by the database layer).
_ROWS = "bw_rows"


def _invalid_cursor() -> Problem:
    return Problem(400, "The cursor is not one this API issued.", kind="invalid-cursor")


def _after(
    decoded: Any,
    sort: str | None,
    column: InstrumentedAttribute[Any],
    key: InstrumentedAttribute[Any],
    descending: bool,
) -> Any:
    """The condition "strictly after the cursor's row" in the requested order."""
    if sort is None:
        if not _fits_key(decoded, key.type):
            raise _invalid_cursor()
        return key > decoded
    if not (isinstance(decoded, list) and len(decoded) == 3 and decoded[0] == sort):
        raise Problem(
            400,
            "The cursor belongs to another sort order (or none): send the same `sort` as the "
            "request that returned it.",
            kind="invalid-cursor",
        )
    value = _from_cursor(decoded[1], column)
    if value is None or not _fits_key(decoded[2], key.type):
        raise _invalid_cursor()
    if descending:
        return or_(column < value, and_(column == value, key < decoded[2]))
    return or_(column > value, and_(column == value, key > decoded[2]))
