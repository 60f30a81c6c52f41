"""Assembles the annual report (An Industry and Compliance Review) from the read model, and
freezes published ones."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.ids import new_id
from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import not_found
from services.common.scope import country_scope_filter, in_country_scope
from services.reporting.activity.schemas import ActivityReport
from services.reporting.activity.service import activity_report
from services.reporting.annual.methodology import (
    catalogs_used,
    participating_factories,
    participation_rule,
)
from services.reporting.annual.schemas import (
    AnnualReport,
    CatalogUsed,
    ClusterBlock,
    CountShare,
    FactoryProfile,
    Methodology,
    ProgrammeOverview,
    PublicationRead,
    Trends,
)
from services.reporting.compliance import service as compliance
from services.reporting.compliance.schemas import CompliancePointRate, QuestionRate, Summary
from services.reporting.compliance.trends import trends_by_cycle_and_year
from services.reporting.disclosure import OTHER, admit_annual, coarsened
from services.reporting.freshness.service import freshness
from services.reporting.models import Assessment, Factory, OutboxEvent, ReportPublication
from services.reporting.scope import Audience, ReportScope
from services.reporting.shared_snapshot import shared_snapshot, together
from services.reporting.vocabulary import SIZE_BAND_LABELS, SizeBand

PROGRAMME_NAMES = {"UZ": "Better Work Uzbekistan"}
HIGHEST_ISSUES = 10

METHODOLOGY_STEPS = [
    "Each factory's latest published assessment in the period is used (a corrected assessment "
    "counts only in its newest revision).",
    "Information-only questions (fact gathering) carry no finding and are left out.",
    "A factory is non-compliant on a compliance point when at least one of its questions has a "
    "finding.",
    "The non-compliance rate of a compliance point is the share of assessed factories (where the "
    "point applies) that are non-compliant on it; a question's rate is the share of factories "
    "with a finding on it.",
    "A cluster's rate is the share of factories non-compliant on at least one of its compliance "
    "points.",
    "A factory's own figure is the share of its compliance points found non-compliant; the "
    "report gives the average over factories. Results are aggregates: no factory is named.",
]


# The orders this list offers (``sort``); ties fall back to the unique key.
PUBLICATION_SORTING = Sorting(
    ReportPublication.id,
    kind=ReportPublication.kind,
    country=ReportPublication.country,
    generated_at=ReportPublication.generated_at,
)


def programme_name(country: str) -> str:
    return PROGRAMME_NAMES.get(country, f"Better Work ({country})")


def _breakdown(values: list[str | None], labels: dict[str, str] | None = None) -> list[CountShare]:
    counts = Counter(v or "unknown" for v in values)
    return [
        CountShare(key=key, label=(labels or {}).get(key, key.replace("_", " ")), factories=n)
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


async def _profile(session: AsyncSession, scope: ReportScope, audience: Audience) -> FactoryProfile:
    selected = compliance.selected_assessments(scope)
    # The five columns the profile uses, as rows: no ORM object per factory (thousands).
    f: Any = Factory
    factories = (
        await session.execute(
            select(f.workforce_total, f.workforce_women, f.size_band, f.ownership, f.region).where(
                f.id.in_(select(selected.c.factory_id))
            )
        )
    ).all()
    workers = sum(f.workforce_total or 0 for f in factories)
    women = sum(f.workforce_women or 0 for f in factories)
    band_order = {band.value: i for i, band in enumerate(SizeBand)}
    # Disclosure control: a characteristic held by too few factories would name them.
    other = (
        {OTHER: f"other (each fewer than {audience.minimum_factories} factories)"}
        if audience.is_public
        else {}
    )
    by_band = sorted(
        _breakdown(
            coarsened([f.size_band for f in factories], audience),
            {k.value: v for k, v in SIZE_BAND_LABELS.items()} | other,
        ),
        key=lambda c: band_order.get(c.key, 99),
    )
    return FactoryProfile(
        factories_assessed=len(factories),
        workers=workers,
        workers_women=women,
        share_women=women / workers if workers else None,
        by_size_band=by_band,
        by_ownership=_breakdown(coarsened([f.ownership for f in factories], audience), other),
        by_region=_breakdown(coarsened([f.region for f in factories], audience), other),
    )


# The live report reads on two connections at once, each on a core of its own: the question
# rates (about half of the report's database time on the bench) beside everything else.
SECTION_GROUPS: tuple[tuple[str, ...], ...] = (
    (
        "summary",
        "clusters",
        "points",
        "trends",
        "activity",
        "participating",
        "catalogs",
        "assessments_in_period",
        "freshness",
        "profile",
    ),
    ("questions",),
)

Section = Callable[[AsyncSession], Awaitable[Any]]


async def build_annual_report(
    session: AsyncSession, year: int, country: str, audience: Audience
) -> AnnualReport:
    """Every section on ``session``, one after another: for a caller that holds a session
    already (publishing, which writes on it; the CLI)."""
    return await _assemble([session], year, country, audience)


async def read_annual_report(
    database: Database, year: int, country: str, audience: Audience
) -> AnnualReport:
    """The live report: its sections in groups on several connections at the same time, all
    reading one committed state (``shared_snapshot``); on one session, in turn, when that
    state could not be shared (a write committed while the connections opened)."""
    admit_annual(year, audience)
    async with shared_snapshot(database, len(SECTION_GROUPS)) as sessions:
        return await _assemble(sessions, year, country, audience)


async def _assemble(
    sessions: Sequence[AsyncSession], year: int, country: str, audience: Audience
) -> AnnualReport:
    """The report from sessions that all see the same data: one group of sections each, or all
    of them on the first when there are fewer sessions than groups."""
    admit_annual(year, audience)
    scope = ReportScope(country=country).for_year(year)
    labels = await compliance.catalog_labels(sessions[0], country)
    figures = await _read(_sections(scope, country, audience, labels), sessions)
    summary: Summary = figures["summary"]
    questions: list[QuestionRate] = figures["questions"]
    shown = [q for q in questions if q.non_compliance_rate is not None]
    highest = sorted(shown, key=lambda q: (-(q.non_compliance_rate or 0), q.question_code))
    by_cycle, by_year = figures["trends"]
    activity: ActivityReport = figures["activity"]
    catalogs: list[CatalogUsed] = figures["catalogs"]
    points: list[CompliancePointRate] = figures["points"]
    assert scope.date_from is not None and scope.date_to is not None  # for_year() sets both
    return AnnualReport(
        title=f"{programme_name(country)}: Annual Report {year}. An Industry and Compliance Review",
        country=country,
        year=year,
        audience="public" if audience.is_public else "full",
        generated_at=datetime.now(UTC),
        data_as_of=figures["freshness"].data_as_of,
        overview=ProgrammeOverview(
            programme_name=programme_name(country),
            factories_participating=figures["participating"],
            assessments_in_period=int(figures["assessments_in_period"] or 0),
            advisory_visits=activity.advisory.visits,
            training_sessions=activity.training.sessions,
            training_participants=activity.training.participants.total,
            stakeholder_events=activity.stakeholder_engagement.events,
        ),
        factory_profile=figures["profile"],
        methodology=Methodology(
            period_from=scope.date_from,
            period_to=scope.date_to,
            assessments_used=summary.factories_assessed,
            catalog_versions=[c.label for c in catalogs],
            catalogs=catalogs,
            participating_factories=participation_rule(scope),
            minimum_factories=audience.minimum_factories,
            steps=METHODOLOGY_STEPS,
        ),
        summary=summary,
        non_compliance=[
            ClusterBlock(
                cluster=cluster,
                compliance_points=[p for p in points if p.cluster_code == cluster.cluster_code],
            )
            for cluster in figures["clusters"]
        ],
        highest_non_compliance=highest[:HIGHEST_ISSUES],
        trends=Trends(by_cycle=by_cycle, by_year=by_year),
        activity=activity,
    )


def _sections(
    scope: ReportScope, country: str, audience: Audience, labels: compliance.Labels
) -> dict[str, Section]:
    """Each section's reads, by name, given the session to read on."""
    assert scope.date_from is not None and scope.date_to is not None
    # Trends look back from the report's year: everything up to its end.
    history = ReportScope(country=country, date_to=date(scope.date_to.year, 12, 31))
    today = min(date.today(), scope.date_to)
    in_period = (
        select(func.count())
        .select_from(Assessment)
        .where(
            col(Assessment.counted).is_(True),
            col(Assessment.country) == country,
            col(Assessment.day) >= scope.date_from,
            col(Assessment.day) <= scope.date_to,
        )
    )
    return {
        "summary": lambda s: compliance.summary(s, scope, audience),
        "clusters": lambda s: compliance.cluster_rates(s, scope, audience, labels),
        "points": lambda s: compliance.compliance_point_rates(s, scope, audience, labels),
        "questions": lambda s: compliance.question_rates(s, scope, audience, labels),
        "trends": lambda s: trends_by_cycle_and_year(s, history, audience, labels, "cluster"),
        "activity": lambda s: activity_report(s, scope, today=today, audience=audience),
        "participating": lambda s: participating_factories(s, scope),
        "catalogs": lambda s: catalogs_used(s, scope),
        "assessments_in_period": lambda s: s.scalar(in_period),
        "freshness": freshness,
        "profile": lambda s: _profile(s, scope, audience),
    }


async def _read(sections: dict[str, Section], sessions: Sequence[AsyncSession]) -> dict[str, Any]:
    """Every section's figures: :data:`SECTION_GROUPS` at the same time, one per session, or
    one after another on the first session when there are fewer sessions than groups."""
    groups: Sequence[Sequence[str]] = SECTION_GROUPS
    if len(sessions) < len(groups):
        groups = [[name for group in groups for name in group]]

    async def read_group(names: Sequence[str], session: AsyncSession) -> dict[str, Any]:
        return {name: await sections[name](session) for name in names}

    figures: dict[str, Any] = {}
    for part in await together(
        [read_group(names, session) for names, session in zip(groups, sessions, strict=False)]
    ):
        figures.update(part)
    return figures


# --- publications ----------------------------------------------------------------------------


def canonical_json(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of the canonical JSON: anyone can recompute it from the published JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(content).encode()).hexdigest()


async def publish_annual_report(
    session: AsyncSession, year: int, country: str, audience: Audience, published_by: str
) -> ReportPublication:
    """Freeze the report as it is now; later data changes never alter a publication."""
    report = await build_annual_report(session, year, country, audience)
    content = report.model_dump(mode="json")
    publication = ReportPublication(
        id=new_id("pub"),
        kind="annual",
        year=year,
        country=country,
        generated_at=report.generated_at,
        content_hash=content_hash(content),
        content=content,
        published_by=published_by,
    )
    session.add(publication)
    await append_event(
        session,
        OutboxEvent,
        event_type="report_publication.created",
        aggregate_type="report_publication",
        aggregate_id=publication.id,
        payload=PublicationRead.model_validate(publication, from_attributes=True).model_dump(
            mode="json"
        ),
        request_id=current_request_id(),
    )
    await session.commit()
    return publication


async def list_publications(
    session: AsyncSession,
    year: int,
    country: str | None,
    params: PageParams,
    principal: Principal,
) -> tuple[list[ReportPublication], str | None]:
    """A year's editions the caller may see: the kernel country rule filters the list, so a
    country-scoped token never learns another programme's editions exist."""
    stmt = select(ReportPublication).where(
        col(ReportPublication.year) == year,
        country_scope_filter(principal, col(ReportPublication.country)),
    )
    if country:
        stmt = stmt.where(col(ReportPublication.country) == country)
    rows, next_cursor = await paginate(session, stmt, PUBLICATION_SORTING, params)
    return list(rows), next_cursor


async def get_publication(
    session: AsyncSession, year: int, ident: str, principal: Principal
) -> ReportPublication:
    """One edition; outside the caller's country it is 404, exactly like a missing one."""
    publication = await session.get(ReportPublication, ident)
    if (
        publication is None
        or publication.year != year
        or not in_country_scope(principal, publication.country)
    ):
        raise not_found("Publication", ident)
    return publication
