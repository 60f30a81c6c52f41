"""Advisory, training and stakeholder figures for a period.

Training events carry factory ids, not countries: a country filter keeps what touched at least
one factory of that country (sessions without factories, e.g. open courses, and seminars,
which the programme holds nationally, are kept).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.activity.schemas import (
    ActivityReport,
    AdvisoryFigures,
    ImprovementPlanFigures,
    Participants,
    SeminarKindFigures,
    StakeholderFigures,
    TopicFigures,
    TrainingFigures,
)
from services.reporting.compliance.schemas import ScopeRead
from services.reporting.disclosure import withheld_below_minimum
from services.reporting.models import (
    AdvisoryVisit,
    CommitteeMeeting,
    Factory,
    ImprovementPlanItem,
    Seminar,
    TrainingSession,
    TrainingSessionFactory,
)
from services.reporting.scope import Audience, ReportScope


def _in_window(column: Any, scope: ReportScope) -> list[Any]:
    conditions = []
    if scope.date_from:
        conditions.append(column >= scope.date_from)
    if scope.date_to:
        conditions.append(column <= scope.date_to)
    return conditions


def _factory_in_country(column: Any, scope: ReportScope) -> list[Any]:
    if not scope.country:
        return []
    return [column.in_(select(col(Factory.id)).where(col(Factory.country) == scope.country))]


async def training_figures(session: AsyncSession, scope: ReportScope) -> TrainingFigures:
    s: Any = TrainingSession
    link: Any = TrainingSessionFactory
    conditions = _in_window(s.start_date, scope)
    if scope.country:
        in_country = select(link.session_id).where(*_factory_in_country(link.factory_id, scope))
        without_factories = ~select(link.session_id).where(link.session_id == s.id).exists()
        conditions.append(or_(s.id.in_(in_country), without_factories))
    sessions = select(s).where(*conditions).subquery()
    totals = (
        await session.execute(
            select(
                func.count(),
                *(
                    func.coalesce(func.sum(sessions.c[f"participants_{part}"]), 0)
                    for part in Participants.model_fields
                ),
            )
        )
    ).one()
    reached = await session.scalar(
        select(func.count(func.distinct(link.factory_id))).where(
            link.session_id.in_(select(sessions.c.id)),
            *_factory_in_country(link.factory_id, scope),
        )
    )
    topics = await session.execute(
        select(
            sessions.c.course_topic,
            func.count(),
            func.coalesce(func.sum(sessions.c.participants_total), 0),
        ).group_by(sessions.c.course_topic)
    )
    return TrainingFigures(
        sessions=int(totals[0]),
        participants=Participants(
            **{name: int(v) for name, v in zip(Participants.model_fields, totals[1:], strict=True)}
        ),
        factories_reached=int(reached or 0),
        by_topic=sorted(
            (
                TopicFigures(topic=t or "other", sessions=int(n), participants=int(p))
                for t, n, p in topics.all()
            ),
            key=lambda figures: figures.topic,
        ),
    )


async def advisory_figures(session: AsyncSession, scope: ReportScope) -> AdvisoryFigures:
    v: Any = AdvisoryVisit
    m: Any = CommitteeMeeting
    visits, factories = (
        await session.execute(
            select(func.count(), func.count(func.distinct(v.factory_id))).where(
                *_in_window(v.visit_date, scope), *_factory_in_country(v.factory_id, scope)
            )
        )
    ).one()
    meetings = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(m.attendees_total), 0),
                func.coalesce(func.sum(m.attendees_women), 0),
                func.count(func.distinct(m.factory_id)),
            ).where(*_in_window(m.meeting_date, scope), *_factory_in_country(m.factory_id, scope))
        )
    ).one()
    return AdvisoryFigures(
        visits=int(visits),
        factories_visited=int(factories),
        committee_meetings=int(meetings[0]),
        committee_meeting_attendees=int(meetings[1]),
        committee_meeting_attendees_women=int(meetings[2]),
        factories_with_committee_meetings=int(meetings[3]),
    )


async def improvement_plan_figures(
    session: AsyncSession, scope: ReportScope, today: date, audience: Audience
) -> ImprovementPlanFigures:
    """Items due in the window (all items if no window); overdue as of the window's end."""
    i: Any = ImprovementPlanItem
    as_of = min(scope.date_to, today) if scope.date_to else today
    rows = await session.execute(
        select(i.status, i.due_date, i.completed_at, i.factory_id).where(
            *_in_window(i.due_date, scope), *_factory_in_country(i.factory_id, scope)
        )
    )
    counts = {"completed": 0, "in_progress": 0, "pending": 0}
    overdue = total = 0
    factories: set[str | None] = set()
    for status, due, completed_at, factory_id in rows.all():
        total += 1
        factories.add(factory_id)
        done = status == "completed" and (completed_at is None or completed_at <= as_of)
        if done:
            counts["completed"] += 1
        elif status == "in_progress":
            counts["in_progress"] += 1
        else:
            counts["pending"] += 1
        if not done and due is not None and due < as_of:
            overdue += 1
    withheld = withheld_below_minimum(len(factories), audience)
    if withheld is not None:
        return ImprovementPlanFigures(
            factories=len(factories),
            items=None,
            completed=None,
            in_progress=None,
            pending=None,
            overdue=None,
            completion_rate=None,
            as_of=as_of.isoformat(),
            withheld=withheld,
        )
    return ImprovementPlanFigures(
        factories=len(factories),
        items=total,
        **counts,
        overdue=overdue,
        completion_rate=counts["completed"] / total if total else None,
        as_of=as_of.isoformat(),
    )


async def stakeholder_figures(session: AsyncSession, scope: ReportScope) -> StakeholderFigures:
    rows = (
        (await session.execute(select(Seminar).where(*_in_window(Seminar.event_date, scope))))
        .scalars()
        .all()
    )
    kinds: dict[str, SeminarKindFigures] = {}
    organisations: set[str] = set()
    for row in rows:
        kind = kinds.setdefault(
            row.kind or "other",
            SeminarKindFigures(
                kind=row.kind or "other", events=0, participants_women=0, participants_men=0
            ),
        )
        kind.events += 1
        kind.participants_women += row.participants_women
        kind.participants_men += row.participants_men
        organisations.update(str(o) for o in row.organisations or [])
    return StakeholderFigures(
        events=len(rows),
        participants_women=sum(k.participants_women for k in kinds.values()),
        participants_men=sum(k.participants_men for k in kinds.values()),
        organisations=sorted(organisations),
        by_kind=sorted(kinds.values(), key=lambda k: k.kind),
    )


async def activity_report(
    session: AsyncSession,
    scope: ReportScope,
    today: date | None = None,
    audience: Audience | None = None,
) -> ActivityReport:
    """``audience``: who asks (None: a caller who sees every figure)."""
    audience = audience or Audience(minimum_factories=None)
    return ActivityReport(
        scope=ScopeRead(**scope.__dict__),
        training=await training_figures(session, scope),
        advisory=await advisory_figures(session, scope),
        improvement_plans=await improvement_plan_figures(
            session, scope, today or date.today(), audience
        ),
        stakeholder_engagement=await stakeholder_figures(session, scope),
    )
