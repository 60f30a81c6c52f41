"""Country scope, role by role (issue 15): staff and constituents with a country see that country
only; without one, and for every other role, the scope is the whole programme; an object with
no country is outside any country's scope; and the SQL filter says the same as the check."""

from __future__ import annotations

import pytest
from sqlalchemy import column

from services.common.auth import Principal, Role
from services.common.scope import (
    COUNTRY_SCOPED_ROLES,
    country_scope,
    country_scope_filter,
    in_country_scope,
)


def who(role: Role, country: str | None = "UZ") -> Principal:
    return Principal(subject="s", role=role.value, country=country)


def sql(principal: Principal) -> str:
    clause = country_scope_filter(principal, column("country"))
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


def test_only_staff_and_constituents_are_limited_to_a_country() -> None:
    assert {Role.STAFF.value, Role.CONSTITUENT.value} == COUNTRY_SCOPED_ROLES


@pytest.mark.parametrize("role", [Role.STAFF, Role.CONSTITUENT])
def test_a_country_scoped_role_with_a_country_sees_that_country_only(role: Role) -> None:
    principal = who(role)
    assert country_scope(principal) == "UZ"
    assert in_country_scope(principal, "UZ") is True
    assert in_country_scope(principal, "KH") is False
    assert in_country_scope(principal, None) is False
    assert sql(principal) == "country = 'UZ'"


@pytest.mark.parametrize("role", [Role.STAFF, Role.CONSTITUENT])
@pytest.mark.parametrize("country", [None, ""])
def test_a_country_scoped_role_without_a_country_is_programme_wide(
    role: Role, country: str | None
) -> None:
    principal = who(role, country)
    assert country_scope(principal) is None
    assert in_country_scope(principal, "KH") is True and in_country_scope(principal, None)
    assert sql(principal) == "true"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SERVICE, Role.FACTORY, Role.BRAND])
def test_other_roles_are_never_limited_by_a_country_claim(role: Role) -> None:
    principal = who(role, "UZ")
    assert country_scope(principal) is None
    assert in_country_scope(principal, "KH") is True
    assert in_country_scope(principal, None) is True
    assert sql(principal) == "true"
