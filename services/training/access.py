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

from services.common.auth import Access, Principal, Role
from services.common.problems import not_found

WRITE = Access(Role.ADMIN, Role.STAFF)
READ = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY)
READ_CATALOGUE = Access(*Role)
READ_SEMINARS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.CONSTITUENT)
UPDATE_ITEM_STATUS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY)


def factory_scope(principal: Principal) -> str | None:
    """The only factory a caller may see, or None when it may see every factory."""
    return principal.factory_id if principal.role == Role.FACTORY else None


def ensure_factory_visible(principal: Principal, factory_id: str, kind: str, ident: str) -> None:
    scope = factory_scope(principal)
    if scope is not None and scope != factory_id:
        raise not_found(kind, ident)
