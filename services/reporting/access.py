"""Who may call the reporting service's routes.

Reports are aggregates: anyone may ask, signed in or not, and what each audience gets is decided
by one rule, not per route (docs/disclosure-control.md, ``services/reporting/disclosure.py``;
country-bound tokens are limited to their country by ``scope.restrict_to_principal``). Freezing
a public edition of the annual report is the programme's act: admin and staff only.
"""

from typing import Annotated

from fastapi import Depends

from services.common.auth import PUBLIC, Access, Principal, Role

READ_REPORTS = PUBLIC
PUBLISH = Access(Role.ADMIN, Role.STAFF)

# A route's caller, typed by its audience: ``caller: Anyone`` declares who may call the route.
Anyone = Annotated[Principal, Depends(READ_REPORTS)]
Publisher = Annotated[Principal, Depends(PUBLISH)]
