"""The kernel's dependencies as ``Annotated`` aliases, so a route's signature says what it gets.

A route writes ``session: SessionDep`` instead of ``session: AsyncSession =
Depends(get_session)``: the same dependency, one spelling in every router, and the type and the
way it is obtained cannot drift apart. Who may call a route is declared the same way, with an
alias each service writes in its ``access.py`` next to its ``Access`` objects (spelled out there,
not built by a function, so mypy reads it as a type)::

    WRITE = Access(Role.ADMIN, Role.STAFF)               # services/<service>/access.py
    Writer = Annotated[Principal, Depends(WRITE)]
    async def update_thing(..., caller: Writer) -> ThingRead: ...  # the parameter is ``caller``

The ``Access`` object itself stays the dependency, so the app still finds it on every route and
publishes it (``x-access``), and a route without one still fails at startup.

Which session to take:
- ``SessionDep`` for a route that writes: on SQLite it takes the write lock when it begins, so
  concurrent writers queue rather than fail; inside a keyed request (Idempotency-Key) it joins
  the request's unit of work (services/common/db.py) and its ``commit()`` is a savepoint's.
- ``ReadSessionDep`` for a route that only reads: on SQLite it never waits for a writer.
- ``ReadConnectionDep`` for a route that only reads rows, not ORM objects (a list of
  ``select_rows``, services/common/pagination.py): the same snapshot, without the ORM session
  (about a tenth of a short list's cost).

A list's page is not an alias here: each list declares its own sort fields
(``params: PageParams = Depends(FACTORY_SORTING.page_params)``, services/common/pagination.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.app import get_read_connection, get_read_session, get_session

SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
ReadConnectionDep = Annotated[AsyncConnection, Depends(get_read_connection)]
