"""What a report covers (filters) and who is asking (every figure, or disclosure-controlled ones).

Access to aggregates (docs/disclosure-control.md):
- admin and staff, who are entitled to every factory's results anyway: every figure, over any
  window, however few factories are behind it.
- everyone else (anonymous, constituent, factory, brand, service): figures pass through the one
  disclosure rule, services/reporting/disclosure.py. A factory or brand token gets no more than
  the public does: beyond its own factory or its consents it has no entitlement either.
- the kernel country rule (services/common/scope.py): a staff or constituent token that names a
  country sees that country's figures only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from fastapi import Depends, Query, Request

from services.common.auth import Principal, Role
from services.common.problems import Problem
from services.common.scope import country_scope
from services.common.text_filters import free_text_query
from services.reporting.settings import ReportingSettings
from services.reporting.vocabulary import SizeBand

ENTITLED_ROLES = frozenset({Role.ADMIN, Role.STAFF})


@dataclass(frozen=True)
class ReportScope:
    """Which assessments (and activities) a figure covers."""

    country: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    cycle: int | None = None
    region: str | None = None
    size_band: str | None = None
    ownership: str | None = None

    def for_year(self, year: int) -> ReportScope:
        return replace(self, date_from=date(year, 1, 1), date_to=date(year, 12, 31))


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Audience:
    """``minimum_factories`` is None for callers who see every figure; otherwise the disclosure
    rule applies, with ``today`` deciding which calendar years have ended (are published)."""

    minimum_factories: int | None
    today: date = field(default_factory=utc_today)

    @property
    def is_public(self) -> bool:
        return self.minimum_factories is not None


def audience_for(principal: Principal, settings: ReportingSettings) -> Audience:
    """Admin and staff see every figure; every other caller, the disclosure-controlled ones."""
    if principal.role in ENTITLED_ROLES:
        return Audience(minimum_factories=None)
    return Audience(minimum_factories=settings.min_cell_size)


def restrict_to_principal(scope: ReportScope, principal: Principal) -> ReportScope:
    """The kernel country rule: a staff or constituent token bound to a country sees that
    country's figures only (its country is filled in when the caller names none)."""
    country = country_scope(principal)
    if country is None:
        return scope
    if scope.country is None:
        return replace(scope, country=country)
    if scope.country != country:
        raise Problem(
            403,
            f"This token may see figures for {country} only.",
            title="Forbidden",
        )
    return scope


# async, like settings_of: FastAPI runs a plain def dependency on its thread pool (a thread trip).
async def scope_params(
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2."),
    year: int | None = Query(None, ge=2000, le=2100, description="Shorthand for a calendar year."),
    date_from: date | None = Query(None, description="Assessments on or after this date."),
    date_to: date | None = Query(None, description="Assessments on or before this date."),
    cycle: int | None = Query(None, ge=1, le=50, description="Each factory's n-th assessment."),
    region: str | None = free_text_query(max_length=120),
    size_band: SizeBand | None = Query(None),
    ownership: str | None = free_text_query(max_length=80),
) -> ReportScope:
    if year is not None and (date_from is not None or date_to is not None):
        raise Problem(
            400, "Give either year or date_from/date_to, not both.", kind="invalid-filter"
        )
    if date_from and date_to and date_from > date_to:
        raise Problem(400, "date_from is after date_to.", kind="invalid-filter")
    scope = ReportScope(
        country=country,
        date_from=date_from,
        date_to=date_to,
        cycle=cycle,
        region=region,
        size_band=size_band.value if size_band else None,
        ownership=ownership,
    )
    return scope.for_year(year) if year is not None else scope


async def settings_of(request: Request) -> ReportingSettings:
    settings: ReportingSettings = request.app.state.settings
    return settings


SettingsDep = Depends(settings_of)
