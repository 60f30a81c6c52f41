"""Who may call the training service, and which objects a caller may see.

- ``admin`` and ``staff`` (Better Work enterprise advisors) read and write everything, staff
  limited to their ``country`` claim when the token has one (the kernel's country scope,
  services/common/scope.py: rows record their country; lists filter on it, reads and writes of
  a row outside it answer 404 before any If-Match is looked at).
- ``factory`` tokens read only what concerns their own ``factory_id`` (sessions they take part
  in, with only their own participants; their visits, committee and improvement plans) and may
  move the status of their own improvement items, since the factory reports its progress.
- ``service`` (other platform services) reads everything; it writes nothing.
- ``constituent`` tokens (the tripartite constituents on the PAC) read seminars and PAC meetings,
  of their own country when the token names one.
- ``brand`` tokens see the course catalogue only: training and advisory records are shared with
  the factory and Better Work, not with buyers.
Objects a caller may not see answer 404, so their existence does not leak.
"""

from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Access, Principal, Role
from services.common.problems import Problem, not_found
from services.common.scope import country_scope, country_scope_filter, in_country_scope

Owned = TypeVar("Owned")

WRITE = Access(Role.ADMIN, Role.STAFF)
READ = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY)
READ_CATALOGUE = Access(*Role)
READ_SEMINARS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.CONSTITUENT)
UPDATE_ITEM_STATUS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY)

# A route's caller, typed by its audience: ``caller: Writer`` declares who may call the route.
Writer = Annotated[Principal, Depends(WRITE)]
Reader = Annotated[Principal, Depends(READ)]
CatalogueReader = Annotated[Principal, Depends(READ_CATALOGUE)]
SeminarReader = Annotated[Principal, Depends(READ_SEMINARS)]
ItemStatusUpdater = Annotated[Principal, Depends(UPDATE_ITEM_STATUS)]


def factory_scope(principal: Principal) -> str | None:
    """The only factory a caller may see, or None when it may see every factory."""
    return principal.factory_id if principal.role == Role.FACTORY else None


def in_scope(model: Any, principal: Principal) -> ColumnElement[bool]:
    """WHERE clause for lists: the rows of ``model`` inside the caller's country scope."""
    return country_scope_filter(principal, model.country)


class NothingVisible(Exception):
    """The caller asked to filter on a factory it may not see: the answer is an empty list."""


def visible_factory_filter(principal: Principal, requested: str | None) -> str | None:
    """The factory a list must be limited to: the caller's own for a factory caller (raising
    NothingVisible if it asked for another), else whatever the caller asked for."""
    scope = factory_scope(principal)
    if scope is None:
        return requested
    if requested is not None and requested != scope:
        raise NothingVisible
    return scope


def ensure_visible(principal: Principal, row: Any, kind: str, ident: str) -> None:
    """404 for a row outside the caller's country, or, for a factory caller, not its own."""
    scope = factory_scope(principal)
    if scope is not None and getattr(row, "factory_id", scope) != scope:
        raise not_found(kind, ident)
    if not in_country_scope(principal, row.country):
        raise not_found(kind, ident)


def country_for_new_record(principal: Principal, requested: str | None) -> str:
    """The country a record without factories (a seminar) is created in: the caller's own when
    it has a country limit (another one is refused), else the one it names."""
    scope = country_scope(principal)
    if scope is not None and requested not in (None, scope):
        raise Problem(
            403,
            f"Your token is limited to country {scope}; this is {requested}.",
            title="Forbidden",
        )
    country = requested or scope
    if country is None:
        raise Problem(
            422,
            "Name the country the record belongs to.",
            title="Validation failed",
            errors=[{"location": "body.country", "message": "required", "type": "missing"}],
        )
    return country


async def fetch_owned(
    session: AsyncSession,
    model: type[Owned],
    ident: str,
    kind: str,
    principal: Principal,
    *,
    lock: bool = False,
) -> Owned:
    """A row the caller may see: 404 when it is missing, outside the caller's country or, for a
    factory caller, not its own. ``lock`` holds the row until commit (PostgreSQL; SQLite writers
    queue anyway). Call it before checking If-Match, so a hidden row reveals no version."""
    if lock:
        id_column: Any = model.id  # type: ignore[attr-defined]
        stmt = (
            select(model)
            .where(id_column == ident)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = (await session.execute(stmt)).scalar_one_or_none()
    else:
        row = await session.get(model, ident)
    if row is None:
        raise not_found(kind, ident)
    ensure_visible(principal, row, kind, ident)
    return row
