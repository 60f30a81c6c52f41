"""Demo and synthetic data of the assessment service (run by `bw seed demo|synthetic`).

The demo goes through the service's own functions (the code path of the API), so it emits the
same change-feed events as real use. The synthetic set uses the same generator with batch
inserts, because millions of findings through one call each would take hours.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col

from services.assessment import demo_data
from services.common.auth import Principal, Role
from services.common.db import Database

SEED_PRINCIPAL = Principal(subject="bw-seed", role=Role.ADMIN)


@dataclass
class DemoResult:
    catalog_id: str | None
    created: bool = True
    factories: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)


async def existing_demo(database: Database) -> DemoResult | None:
    """The demo already in the database (factory and published-assessment snapshots), if any."""
    from services.assessment.assessments.service import published_snapshot
    from services.assessment.factories.service import snapshot
    from services.assessment.models import Assessment, Factory

    names = [demo.name for demo in demo_data.DEMO_FACTORIES]
    async with database.sessionmaker() as session:
        factories = list(
            (
                await session.execute(
                    select(Factory)
                    .where(col(Factory.name).in_(names), col(Factory.country) == "UZ")
                    .order_by(Factory.id)
                )
            ).scalars()
        )
        if not factories:
            return None
        assessments = list(
            (
                await session.execute(
                    select(Assessment)
                    .where(
                        col(Assessment.factory_id).in_([f.id for f in factories]),
                        col(Assessment.status) == "published",
                    )
                    .order_by(Assessment.id)
                )
            ).scalars()
        )
        return DemoResult(
            catalog_id=assessments[0].catalog_id if assessments else None,
            created=False,
            factories=[snapshot(f) for f in factories],
            assessments=[await published_snapshot(session, a) for a in assessments],
        )


async def seed_demo(database: Database, seed: int = demo_data.DEMO_SEED) -> DemoResult:
    """Load the demo once; when it is already there, describe it (``created`` False)."""
    from services.assessment.assessments import service as assessments
    from services.assessment.assessments.schemas import AssessmentCreate
    from services.assessment.assessments.state_machine import Status
    from services.assessment.brands import service as brands
    from services.assessment.brands.schemas import BrandCreate
    from services.assessment.catalogs import service as catalogs
    from services.assessment.catalogs.schemas import CatalogImport
    from services.assessment.consents import service as consents
    from services.assessment.factories import service as factories
    from services.assessment.factories.schemas import FactoryCreate
    from services.assessment.findings import service as findings
    from services.assessment.findings.schemas import FindingIn

    if (existing := await existing_demo(database)) is not None:
        return existing
    rng = random.Random(seed)
    who = SEED_PRINCIPAL
    async with database.sessionmaker() as session:
        structure = await catalogs.import_catalog(
            session, CatalogImport.model_validate(demo_data.load_draft_cat()), who
        )
        structure = await catalogs.publish_catalog(session, structure.catalog, who)
        catalog_id = structure.catalog.id
        questions = [
            (q.code, q.kind, q.compliance_point_code, q.cluster_code) for q in structure.questions
        ]
        brand_rows = [
            await brands.create_brand(session, BrandCreate(name=name, type=kind))
            for name, kind in demo_data.DEMO_BRANDS
        ]
        result = DemoResult(catalog_id=catalog_id)
        for index, demo in enumerate(demo_data.DEMO_FACTORIES):
            buyers = [brand_rows[index % 4], brand_rows[(index + 1) % 4]]
            factory = await factories.create_factory(
                session,
                FactoryCreate(
                    name=demo.name,
                    name_uz=demo.name_uz,
                    name_ru=demo.name_ru,
                    country="UZ",
                    region=demo.region,
                    address=demo.address,
                    sector=demo.sector,
                    ownership=demo.ownership,
                    export_markets=list(demo.export_markets),
                    workforce=demo_data.workforce(
                        demo.workforce_total, demo.women_share, demo.migrants
                    ),
                    participation_start=demo.participation_start,
                    buyer_brand_ids=[b.id for b in buyers],
                ),
                who,
            )
            await consents.grant(session, factory, buyers[0].id, who)
            if index % 3 == 0:
                await consents.grant(session, factory, buyers[1].id, who)
            if index == 4:  # one revoked grant, so the history has something to show
                revoked = await consents.grant(session, factory, brand_rows[3].id, who)
                await consents.revoke(session, factory, revoked.id, who)
            result.factories.append(factories.snapshot(factory))

            assessment = await assessments.create_assessment(
                session,
                AssessmentCreate(
                    factory_id=factory.id,
                    catalog_id=catalog_id,
                    visit_type="announced" if index == 0 else "unannounced",
                    visit_start=demo.visit_start,
                    visit_end=demo.visit_start + timedelta(days=1),
                    assessors=rng.sample(demo_data.ASSESSORS, 2),
                    person_days=4,
                    process_integrity={
                        "workers_interviewed": rng.randint(12, 30),
                        "managers_interviewed": rng.randint(2, 5),
                        "union_representatives_interviewed": rng.randint(0, 2),
                        "documents_reviewed": True,
                        "access_restricted": False,
                    },
                ),
                who,
            )
            await assessments.transition(session, assessment, Status.in_progress, who)
            answers = demo_data.generate_findings(rng, questions, demo.propensity)
            await findings.replace_findings(
                session,
                assessment,
                [
                    FindingIn(
                        question_code=a["question_code"],
                        non_compliant=a["non_compliant"],
                        value=a["value"],
                    )
                    for a in answers
                ],
                who,
            )
            for status in (Status.draft, Status.factory_review, Status.published):
                await assessments.transition(session, assessment, status, who)
            result.assessments.append(await assessments.published_snapshot(session, assessment))
    return result


@dataclass
class SyntheticResult:
    catalog_id: str
    factories: int
    assessments: int
    findings: int
    seconds: float


async def _synthetic_catalog(database: Database) -> Any:
    from services.assessment.catalogs import service as catalogs
    from services.assessment.catalogs.schemas import CatalogImport
    from services.assessment.models import Catalog, CatalogQuestion

    async with database.sessionmaker() as session:
        previous = (
            await session.execute(
                select(Catalog)
                .where(col(Catalog.country) == "UZ", col(Catalog.status) == "published")
                .order_by(col(Catalog.number).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        previous_codes: set[str] | None = None
        if previous is not None:
            rows = await session.execute(
                select(col(CatalogQuestion.code)).where(
                    col(CatalogQuestion.catalog_id) == previous.id
                )
            )
            previous_codes = set(rows.scalars())
        document = demo_data.extended_cat(250, previous_codes)
        if previous is not None:
            document["previous_catalog_id"] = previous.id
        structure = await catalogs.import_catalog(
            session, CatalogImport.model_validate(document), SEED_PRINCIPAL
        )
        return await catalogs.publish_catalog(session, structure.catalog, SEED_PRINCIPAL)


async def seed_synthetic(
    database: Database,
    factories: int,
    cycles: int,
    seed: int = 7,
    events: bool = True,
    batch_size: int = 50,
    progress: Any = None,
) -> SyntheticResult:
    """``factories`` x ``cycles`` published assessments on a ~250-question CAT, inserted in
    batches (one transaction per batch of factories, events included)."""
    from services.assessment.assessments.service import published_payload
    from services.assessment.assessments.service import snapshot as assessment_snapshot
    from services.assessment.events import emit
    from services.assessment.factories.service import snapshot as factory_snapshot
    from services.assessment.models import (
        Assessment,
        AssessmentTransition,
        Factory,
        Finding,
        OutboxEvent,
    )
    from services.common.ids import new_id

    started = time.perf_counter()
    rng = random.Random(seed)
    structure = await _synthetic_catalog(database)
    catalog_id = structure.catalog.id
    questions = [
        (q.code, q.kind, q.compliance_point_code, q.cluster_code) for q in structure.questions
    ]
    made_assessments = made_findings = 0
    for first in range(0, factories, batch_size):
        factory_rows: list[Factory] = []
        assessment_rows: list[dict[str, Any]] = []
        transition_rows: list[dict[str, Any]] = []
        finding_rows: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for index in range(first, min(first + batch_size, factories)):
            profile = demo_data.synthetic_factory(rng, index + 1)
            work = profile.pop("workforce")
            propensity = profile.pop("propensity")
            factory = Factory(
                id=new_id("fac"),
                version=1,
                workforce_total=work["total"],
                workforce_women=work["women"],
                workforce_men=work["men"],
                workforce_migrants=work["migrants"],
                participation_status="active",
                buyer_brand_ids=[],
                created_at=now,
                updated_at=now,
                **profile,
            )
            factory_rows.append(factory)
            outbox_rows.append(_event("factory.created", factory.id, factory_snapshot(factory)))
            for cycle in range(1, cycles + 1):
                start, end = demo_data.visit_dates(rng, 2024 - (cycles - cycle))
                published_at = datetime.combine(end + timedelta(days=28), clock(9), UTC)
                assessment = Assessment(
                    id=new_id("asm"),
                    version=1,
                    factory_id=factory.id,
                    catalog_id=catalog_id,
                    cycle=cycle,
                    revision=1,
                    status="published",
                    visit_type="unannounced",
                    visit_start=start,
                    visit_end=end,
                    assessors=rng.sample(demo_data.ASSESSORS, 2),
                    person_days=4.0,
                    process_integrity={"workers_interviewed": rng.randint(10, 40)},
                    published_at=published_at,
                    created_at=published_at,
                    updated_at=published_at,
                )
                answers = demo_data.generate_findings(rng, questions, propensity, cycle)
                assessment_rows.append(assessment.model_dump())
                transition_rows.append(
                    {
                        "assessment_id": assessment.id,
                        "from_status": None,
                        "to_status": "published",
                        "actor": SEED_PRINCIPAL.subject,
                        "actor_role": SEED_PRINCIPAL.role,
                        "reason": "synthetic data",
                        "occurred_at": published_at,
                    }
                )
                finding_rows.extend(
                    {
                        **answer,
                        "assessment_id": assessment.id,
                        "notes": None,
                        "evidence": [],
                        "recorded_by": SEED_PRINCIPAL.subject,
                        "recorded_at": published_at,
                    }
                    for answer in answers
                )
                if events:
                    outbox_rows.append(
                        _event("assessment.created", assessment.id, assessment_snapshot(assessment))
                    )
                    outbox_rows.append(
                        _event(
                            "assessment.published",
                            assessment.id,
                            published_payload(assessment, "UZ", answers),
                        )
                    )
        async with database.sessionmaker() as session:
            await session.execute(insert(Factory), [f.model_dump() for f in factory_rows])
            await session.execute(insert(Assessment), assessment_rows)
            await session.execute(insert(AssessmentTransition), transition_rows)
            await session.execute(insert(Finding), finding_rows)
            if events and outbox_rows:
                # The first event goes through the kernel (it takes the outbox lock on
                # PostgreSQL for this transaction); the rest follow in one batch.
                head, *rest = outbox_rows
                await emit(session, head["event_type"], head["aggregate_id"], head["payload"])
                if rest:
                    await session.execute(insert(OutboxEvent), rest)
            await session.commit()
        made_assessments += len(assessment_rows)
        made_findings += len(finding_rows)
        if progress is not None:
            progress(min(first + batch_size, factories), made_findings)
    return SyntheticResult(
        catalog_id=catalog_id,
        factories=factories,
        assessments=made_assessments,
        findings=made_findings,
        seconds=time.perf_counter() - started,
    )


def _event(event_type: str, aggregate_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "aggregate_type": event_type.split(".", 1)[0],
        "aggregate_id": aggregate_id,
        "payload": payload,
        "occurred_at": datetime.now(UTC),
    }
