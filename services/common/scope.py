"""Country scope: the one rule every service applies to lists, reads and writes.

A token may carry a ``country`` claim. Staff and constituents holding one work in that country
only; admin and service tokens are programme-wide, and factory and brand tokens are scoped by
their factory or brand instead. An object outside the caller's country answers 404, exactly like
a missing one, and that is decided before any precondition (If-Match) is looked at, so a stale
ETag cannot reveal that the object exists or hand over its current version.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, true

from services.common.auth import Principal, Role

COUNTRY_SCOPED_ROLES = frozenset({Role.STAFF.value, Role.CONSTITUENT.value})


def country_scope(principal: Principal) -> str | None:
    """The only country ``principal`` may see, or None when it is not limited to one."""
    if principal.role in COUNTRY_SCOPED_ROLES and principal.country:
        return principal.country
    return None


def in_country_scope(principal: Principal, country: str | None) -> bool:
    """Whether an object of ``country`` lies inside the caller's scope. An object with no
    country is visible only to callers without a country limit."""
    scope = country_scope(principal)
    return scope is None or scope == country


def country_scope_filter(principal: Principal, country_column: Any) -> ColumnElement[bool]:
    """A WHERE clause on ``country_column`` keeping the rows inside the caller's scope: every row
    for a caller without a country limit, else that country's rows only (rows with no country
    drop out, as :func:`in_country_scope` says)."""
    scope = country_scope(principal)
    if scope is None:
        return true()
    return cast(ColumnElement[bool], country_column == scope)
