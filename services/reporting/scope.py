"""What a report covers (filters) and who is asking (full figures or public, suppressed ones).

Access to aggregates:
- admin, staff, constituent: every figure, however few factories are behind it. A constituent
  token that names a country sees that country only.
- anonymous, factory and brand callers: the public figures, where a figure resting on fewer
  than ``min_cell_size`` factories is withheld (with the reason). A factory or brand token gets
  no more than the public does, because with few factories a precise rate would let one
  participant infer another's results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from fastapi import Depends, Query, Request

from services.common.auth import Principal, Role
from services.common.problems import Problem
from services.reporting.settings import ReportingSettings
from services.reporting.vocabulary import SizeBand

FULL_ACCESS_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.CONSTITUENT})


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


@dataclass(frozen=True)
class Audience:
    """``minimum_factories`` is None for callers who see every figure."""

    minimum_factories: int | None

    @property
    def is_public(self) -> bool:
        return self.minimum_factories is not None


def audience_for(principal: Principal, settings: ReportingSettings) -> Audience:
    if principal.role in FULL_ACCESS_ROLES:
        return Audience(minimum_factories=None)
    return Audience(minimum_factories=settings.min_cell_size)


def restrict_to_principal(scope: ReportScope, principal: Principal) -> ReportScope:
    """A constituent token bound to a country sees that country's figures only."""
    if principal.role != Role.CONSTITUENT or not principal.country:
        return scope
    if scope.country is None:
        return replace(scope, country=principal.country)
    if scope.country != principal.country:
        raise Problem(
            403,
            f"This token may see figures for {principal.country} only.",
            title="Forbidden",
        )
    return scope


def scope_params(
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2."),
    year: int | None = Query(None, ge=2000, le=2100, description="Shorthand for a calendar year."),
    date_from: date | None = Query(None, description="Assessments on or after this date."),
    date_to: date | None = Query(None, description="Assessments on or before this date."),
    cycle: int | None = Query(None, ge=1, le=50, description="Each factory's n-th assessment."),
    region: str | None = Query(None, max_length=120),
    size_band: SizeBand | None = Query(None),
    ownership: str | None = Query(None, max_length=80),
) -> ReportScope:
    if year is not None and (date_from is not None or date_to is not None):
        raise Problem(400, "Give either year or date_from/date_to, not both.", title="Bad filter")
    if date_from and date_to and date_from > date_to:
        raise Problem(400, "date_from is after date_to.", title="Bad filter")
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


def settings_of(request: Request) -> ReportingSettings:
    settings: ReportingSettings = request.app.state.settings
    return settings


SettingsDep = Depends(settings_of)
