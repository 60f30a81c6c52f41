"""SQLModel tables of the reporting service's read model (its own registry and migrations).

Everything here is derived from the assessment and training change feeds and can be rebuilt by
replaying them from cursor 0. Findings are reduced at ingest to per-assessment flags (question,
compliance point, cluster), so a report aggregates small, indexed tables and never re-reads the
raw events. No factory name is kept: reports are aggregates and never name a factory.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, utcnow


class ReportingTable(SQLModel, registry=registry()):
    pass


class IdempotencyRecord(ReportingTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


class OutboxEvent(ReportingTable, OutboxFields, table=True):
    """Reporting's own feed: publications of reports (``report_publication.created``)."""

    __tablename__ = "outbox"


class FeedCursor(ReportingTable, table=True):
    """How far reporting has applied a source's change feed; updated in the same transaction."""

    __tablename__ = "feed_cursor"

    source: str = Field(primary_key=True, max_length=40)
    last_event_id: int = Field(default=0)
    # With last_event_id, the feed position applied (PostgreSQL: <txid>.<id>; None: a bare id).
    last_event_txid: int | None = Field(default=None, sa_type=BigInteger())
    last_event_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    caught_up_at: datetime | None = Field(
        default=None, description="Last time the source said there was nothing more to read."
    )
    last_attempt_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    consecutive_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class AppliedVersion(ReportingTable, table=True):
    """The newest version of each source aggregate applied: the feed's transaction-id order is
    not commit order, so an older snapshot may arrive after a newer one (ADR 0011)."""

    __tablename__ = "applied_version"

    aggregate_type: str = Field(primary_key=True, max_length=80)
    aggregate_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(sa_type=BigInteger())


# --- assessment feed -------------------------------------------------------------------------


class Factory(ReportingTable, table=True):
    __tablename__ = "factory"

    id: str = Field(primary_key=True, max_length=64)
    country: str | None = Field(default=None, max_length=2, index=True)
    region: str | None = Field(default=None, max_length=120)
    sector: str | None = Field(default=None, max_length=120)
    ownership: str | None = Field(default=None, max_length=80)
    size_band: str | None = Field(default=None, max_length=20)
    export_markets: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    workforce_total: int | None = None
    workforce_women: int | None = None
    workforce_men: int | None = None
    workforce_migrants: int | None = None
    participation_status: str | None = Field(default=None, max_length=40)
    participation_start: date | None = None
    registered_at: datetime | None = Field(
        default=None, description="When it was registered on the platform: its factory.created."
    )


class Catalog(ReportingTable, table=True):
    __tablename__ = "catalog"

    id: str = Field(primary_key=True, max_length=64)
    country: str | None = Field(default=None, max_length=2)
    version: str | None = Field(default=None, max_length=40)
    title: str | None = Field(default=None, max_length=500)
    status: str | None = Field(default=None, max_length=40)
    status_note: str | None = Field(default=None, description="Its author's word on its status.")
    published_at: datetime | None = None
    previous_catalog_id: str | None = Field(default=None, max_length=64)


class CatalogCluster(ReportingTable, table=True):
    __tablename__ = "catalog_cluster"

    catalog_id: str = Field(primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300)
    category: str | None = Field(default=None, max_length=80)
    position: int = 0


class CatalogCompliancePoint(ReportingTable, table=True):
    __tablename__ = "catalog_compliance_point"

    catalog_id: str = Field(primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=40)
    cluster_code: str = Field(max_length=40)
    name: str = Field(max_length=300)
    position: int = 0


class CatalogQuestion(ReportingTable, table=True):
    __tablename__ = "catalog_question"

    catalog_id: str = Field(primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=40)
    compliance_point_code: str = Field(max_length=40)
    cluster_code: str = Field(max_length=40)
    kind: str = Field(max_length=20, description="'finding' or 'information'.")
    previous_code: str | None = Field(default=None, max_length=40)
    text: str | None = None
    position: int = 0


class Assessment(ReportingTable, table=True):
    """One assessment revision; ``counted`` marks the ones the methodology may use."""

    __tablename__ = "assessment"
    __table_args__ = (Index("ix_assessment_counted_country_date", "counted", "country", "day"),)

    id: str = Field(primary_key=True, max_length=64)
    factory_id: str = Field(max_length=64, index=True)
    catalog_id: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=2)
    cycle: int | None = None
    status: str | None = Field(default=None, max_length=40)
    visit_type: str | None = Field(default=None, max_length=40)
    visit_start: date | None = None
    visit_end: date | None = None
    day: date | None = Field(default=None, description="The assessment's date: end of visit.")
    published_at: datetime | None = None
    revision: int = 1
    supersedes_id: str | None = Field(default=None, max_length=64, index=True)
    superseded: bool = False
    has_findings: bool = False
    counted: bool = Field(default=False, description="Published, has findings, not superseded.")
    compliance_points_applicable: int = 0
    compliance_points_non_compliant: int = 0


class AssessmentQuestion(ReportingTable, table=True):
    """A finding question the assessment answered (information-only questions are dropped)."""

    __tablename__ = "assessment_question"
    # SQLite keeps the rows in key order: a read by assessment finds the flag with the key.
    __table_args__ = {"sqlite_with_rowid": False}

    assessment_id: str = Field(primary_key=True, max_length=64)
    question_code: str = Field(primary_key=True, max_length=40)
    compliance_point_code: str = Field(max_length=40)
    cluster_code: str = Field(max_length=40)
    non_compliant: bool


class AssessmentCompliancePoint(ReportingTable, table=True):
    """Non-compliant on a CP when at least one of its finding questions has a finding."""

    __tablename__ = "assessment_compliance_point"
    # In key order on SQLite, as assessment_question.
    __table_args__ = {"sqlite_with_rowid": False}

    assessment_id: str = Field(primary_key=True, max_length=64)
    compliance_point_code: str = Field(primary_key=True, max_length=40)
    cluster_code: str = Field(max_length=40)
    non_compliant: bool


class AssessmentCluster(ReportingTable, table=True):
    """Non-compliant on a cluster when non-compliant on at least one of its CPs."""

    __tablename__ = "assessment_cluster"
    # In key order on SQLite, as assessment_question.
    __table_args__ = {"sqlite_with_rowid": False}

    assessment_id: str = Field(primary_key=True, max_length=64)
    cluster_code: str = Field(primary_key=True, max_length=40)
    non_compliant: bool


# --- training feed ---------------------------------------------------------------------------


class Course(ReportingTable, table=True):
    __tablename__ = "course"

    id: str = Field(primary_key=True, max_length=64)
    code: str | None = Field(default=None, max_length=80)
    title: str | None = None
    topic: str | None = Field(default=None, max_length=80)
    duration_days: float | None = None
    audience: Any = Field(default=None, sa_type=JSON, nullable=True)


class TrainingSession(ReportingTable, table=True):
    __tablename__ = "training_session"

    id: str = Field(primary_key=True, max_length=64)
    course_id: str | None = Field(default=None, max_length=64)
    course_topic: str | None = Field(default=None, max_length=80)
    start_date: date | None = Field(default=None, index=True)
    end_date: date | None = None
    delivery: str | None = Field(default=None, max_length=40)
    participants_total: int = 0
    participants_female: int = 0
    participants_male: int = 0
    participants_worker: int = 0
    participants_supervisor: int = 0
    participants_manager: int = 0
    participants_worker_representative: int = 0
    participants_completed: int = 0


class TrainingSessionFactory(ReportingTable, table=True):
    __tablename__ = "training_session_factory"

    session_id: str = Field(primary_key=True, max_length=64)
    factory_id: str = Field(primary_key=True, max_length=64)


class AdvisoryVisit(ReportingTable, table=True):
    __tablename__ = "advisory_visit"

    id: str = Field(primary_key=True, max_length=64)
    factory_id: str | None = Field(default=None, max_length=64)
    visit_date: date | None = Field(default=None, index=True)
    topics: Any = Field(default=None, sa_type=JSON, nullable=True)
    compliance_point_codes: Any = Field(default=None, sa_type=JSON, nullable=True)


class Committee(ReportingTable, table=True):
    __tablename__ = "committee"

    id: str = Field(primary_key=True, max_length=64)
    factory_id: str | None = Field(default=None, max_length=64)
    members_total: int = 0
    members_women: int = 0
    members_men: int = 0


class CommitteeMeeting(ReportingTable, table=True):
    __tablename__ = "committee_meeting"

    id: str = Field(primary_key=True, max_length=64)
    committee_id: str | None = Field(default=None, max_length=64)
    factory_id: str | None = Field(default=None, max_length=64)
    meeting_date: date | None = Field(default=None, index=True)
    attendees_total: int = 0
    attendees_women: int = 0


class ImprovementPlanItem(ReportingTable, table=True):
    __tablename__ = "improvement_plan_item"

    id: str = Field(primary_key=True, max_length=64)
    plan_id: str = Field(max_length=64, index=True)
    factory_id: str | None = Field(default=None, max_length=64)
    assessment_id: str | None = Field(default=None, max_length=64)
    compliance_point_code: str | None = Field(default=None, max_length=40)
    finding_question_code: str | None = Field(default=None, max_length=40)
    status: str | None = Field(default=None, max_length=40)
    due_date: date | None = None
    completed_at: date | None = None


class Seminar(ReportingTable, table=True):
    __tablename__ = "seminar"

    id: str = Field(primary_key=True, max_length=64)
    kind: str | None = Field(default=None, max_length=40)
    event_date: date | None = Field(default=None, index=True)
    topic: str | None = None
    organisations: Any = Field(default=None, sa_type=JSON, nullable=True)
    participants_women: int = 0
    participants_men: int = 0


# --- published reports -----------------------------------------------------------------------


class ReportPublication(ReportingTable, table=True):
    """A frozen report: the JSON exactly as published, its hash and when it was generated."""

    __tablename__ = "report_publication"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=40)
    year: int = Field(index=True)
    country: str = Field(max_length=2)
    generated_at: datetime = Field(default_factory=utcnow)
    content_hash: str = Field(max_length=80)
    content: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    published_by: str | None = Field(default=None, max_length=200)


# --- consents and background-work leases ------------------------------------------------------


class BrandConsent(ReportingTable, table=True):
    """A factory's consent to share with a brand (``consent.*`` events): webhooks reach a brand
    only for factories whose consent is live, checked again at delivery time."""

    __tablename__ = "brand_consent"

    id: str = Field(primary_key=True, max_length=64)
    factory_id: str = Field(max_length=64, index=True)
    brand_id: str = Field(max_length=64, index=True)
    revoked_at: datetime | None = None


class WorkerLease(ReportingTable, table=True):
    """Who runs a piece of once-only background work (the sync, the deliverer) across replicas:
    the holder renews ``expires_at``; when it stops, another replica takes the lease over."""

    __tablename__ = "worker_lease"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=200)
    expires_at: datetime
    acquired_at: datetime = Field(default_factory=utcnow)


metadata = ReportingTable.metadata

# The webhook tables share this registry; importing them here puts them in ``metadata``.
from services.reporting.webhooks import models as _webhook_models  # noqa: E402,F401
