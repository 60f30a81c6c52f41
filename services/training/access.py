"""Who may call the training service, and which objects a caller may see.

- ``admin`` and ``staff`` (Better Work enterprise advisors) read and write everything.
- ``factory`` tokens read only what concerns their own ``factory_id`` (sessions they take part
  in, with only their own participants; their visits, committee and improvement plans) and may
  move the status of their own improvement items, since the factory reports its progress.
- ``service`` (other platform services) reads everything; it writes nothing.
- ``constituent`` tokens (the tripartite constituents on the PAC) read seminars and PAC meetings.
- ``brand`` tokens see the course catalogue only: training and advisory records are shared with
  the factory and Better Work, not with buyers.
Objects a caller may not see answer 404, so their existence does not leak.
"""

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Access, Principal, Role
from services.common.problems import not_found

Owned = TypeVar("Owned")

WRITE = Access(Role.ADMIN, Role.STAFF)
READ = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY)
READ_CATALOGUE = Access(*Role)
READ_SEMINARS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.CONSTITUENT)
UPDATE_ITEM_STATUS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY)


def factory_scope(principal: Principal) -> str | None:
    """The only factory a caller may see, or None when it may see every factory."""
    return principal.factory_id if principal.role == Role.FACTORY else None


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


def ensure_factory_visible(principal: Principal, factory_id: str, kind: str, ident: str) -> None:
    scope = factory_scope(principal)
    if scope is not None and scope != factory_id:
        raise not_found(kind, ident)


async def fetch_owned(
    session: AsyncSession,
    model: type[Owned],
    ident: str,
    kind: str,
    principal: Principal | None = None,
    *,
    lock: bool = False,
) -> Owned:
    """A row that belongs to one factory: 404 when it is missing or, for a factory caller, not
    its own. ``lock`` holds the row until commit (PostgreSQL; SQLite writers queue anyway)."""
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
    if principal is not None:
        ensure_factory_visible(principal, row.factory_id, kind, ident)  # type: ignore[attr-defined]
    return row
