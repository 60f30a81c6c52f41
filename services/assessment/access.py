"""Who may call the assessment service's routes, and which factories and assessments they see.

Route audiences (``WRITE``, ``READ``...) and their ``Annotated`` aliases (``Writer``,
``Reader``...) are below; a route takes ``caller: Writer``. Object-level visibility:
one place for the rules, so lists, single reads and writes agree:
- admin and service see everything; staff too, limited by the kernel's country scope
  (services/common/scope.py) when their token carries a ``country`` claim;
- a factory token sees only its own factory, and that factory's assessments once they reach it
  (factory_review or published): it must not learn the date of an unannounced visit;
- a brand token sees only factories that currently grant it consent, and only their
  *published* assessments; it loses access the moment consent is revoked;
- anyone else sees no factory.
Hidden objects answer 404, exactly like missing ones, so a caller cannot learn they exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import ColumnElement, false, select, true
from sqlmodel import col

from services.assessment.models import Assessment, Catalog, Consent, Factory
from services.common.auth import ANY_USER, Access, Principal, Role
from services.common.problems import Problem, not_found
from services.common.scope import country_scope, country_scope_filter, in_country_scope

# Who may call which route: one audience per kind of caller, shared by every router.
WRITE = Access(Role.ADMIN, Role.STAFF)
READ = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY, Role.BRAND)
# The CAT is the country's published questionnaire: every signed-in caller may read it.
READ_CATALOGUE = ANY_USER
# Who moved an assessment when is the programme's own record, not the factory's or a buyer's.
READ_HISTORY = Access(Role.ADMIN, Role.STAFF, Role.SERVICE)
# A factory decides which brands see its data; brands never grant themselves access.
MANAGE_CONSENTS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY)
READ_CONSENTS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY)

# A route's caller, typed by its audience: ``caller: Writer`` declares who may call the route.
Writer = Annotated[Principal, Depends(WRITE)]
Reader = Annotated[Principal, Depends(READ)]
CatalogueReader = Annotated[Principal, Depends(READ_CATALOGUE)]
HistoryReader = Annotated[Principal, Depends(READ_HISTORY)]
ConsentManager = Annotated[Principal, Depends(MANAGE_CONSENTS)]
ConsentReader = Annotated[Principal, Depends(READ_CONSENTS)]

PUBLISHED = "published"
SHOWN_TO_FACTORY = ("factory_review", PUBLISHED)


def consenting_factory_ids(brand_id: str) -> Any:
    """Subquery: the factories that currently share their data with ``brand_id``."""
    return select(col(Consent.factory_id)).where(
        col(Consent.brand_id) == brand_id,
        col(Consent.revoked_at).is_(None),
    )


def factory_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``Factory`` limiting rows to those the caller may see."""
    role = principal.role
    if role in (Role.ADMIN, Role.SERVICE):
        return true()
    if role == Role.STAFF:
        return country_scope_filter(principal, col(Factory.country))
    if role == Role.FACTORY:
        return col(Factory.id) == principal.factory_id
    if role == Role.BRAND and principal.brand_id:
        return col(Factory.id).in_(consenting_factory_ids(principal.brand_id))
    return false()


def assessment_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``Assessment`` (joined to ``Factory``) for what the caller may see."""
    visible_factory = factory_filter(principal)
    if principal.role == Role.BRAND:
        return visible_factory & (col(Assessment.status) == PUBLISHED)
    if principal.role == Role.FACTORY:
        return visible_factory & col(Assessment.status).in_(SHOWN_TO_FACTORY)
    return visible_factory


def buyer_brands_seen_by(factory: Factory, viewer: Principal) -> list[str]:
    """A brand learns only its own buying relationship with a factory, never which other brands
    buy there (commercially sensitive); every other caller who may see the factory sees them all."""
    if viewer.role == Role.BRAND:
        return [b for b in factory.buyer_brand_ids if b == viewer.brand_id]
    return list(factory.buyer_brand_ids)


def catalog_visible(principal: Principal, catalog: Catalog) -> bool:
    """A CAT version belongs to its country: a country-scoped caller sees its own country's."""
    return in_country_scope(principal, catalog.country)


def require_country(principal: Principal, country: str) -> None:
    """Creating something new (a factory, a CAT version) in ``country``: refused (403) outside
    the caller's country scope. Nothing exists yet, so there is nothing to hide; an *existing*
    object outside the scope answers 404 instead, through the filters above."""
    if not in_country_scope(principal, country):
        raise Problem(
            403,
            f"Your token is limited to country {country_scope(principal)}; this is {country}.",
            title="Forbidden",
        )


def hidden(kind: str, ident: str) -> Problem:
    """The answer for an object the caller may not see: the same as for one that is missing."""
    return not_found(kind, ident)
