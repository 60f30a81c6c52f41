"""SQLModel tables of the assessment service; its own registry keeps them out of other services'
metadata (and migrations).

Nothing here is ever deleted except by an operator: consents are revoked (a row keeps the
history), published assessments are superseded by new revisions, catalogues are versioned.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Numeric, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.etag import Versioned
from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, utcnow


class AssessmentTable(SQLModel, registry=registry()):
    pass


class OutboxEvent(AssessmentTable, OutboxFields, table=True):
    __tablename__ = "outbox"


class IdempotencyRecord(AssessmentTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


metadata = AssessmentTable.metadata


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=JSON, nullable=False)


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_type=JSON, nullable=False)


# --- factories, brands, consent ------------------------------------------------------------


class Factory(AssessmentTable, Versioned, table=True):
    __tablename__ = "factory"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    name_uz: str | None = Field(default=None, max_length=300)
    name_ru: str | None = Field(default=None, max_length=300)
    country: str = Field(max_length=2, index=True)
    region: str | None = Field(default=None, max_length=120, index=True)
    address: str | None = Field(default=None, max_length=500)
    sector: str | None = Field(default=None, max_length=80)
    ownership: str | None = Field(default=None, max_length=80)
    export_markets: list[str] = _json_list()
    workforce_total: int | None = None
    workforce_women: int | None = None
    workforce_men: int | None = None
    workforce_migrants: int | None = None
    participation_status: str = Field(default="active", max_length=20, index=True)
    participation_start: date | None = None
    buyer_brand_ids: list[str] = _json_list()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Brand(AssessmentTable, Versioned, table=True):
    __tablename__ = "brand"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    type: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Consent(AssessmentTable, table=True):
    """One grant of data-sharing consent; revoking stamps ``revoked_at``, never deletes."""

    __tablename__ = "consent"

    id: str = Field(primary_key=True, max_length=40)
    factory_id: str = Field(foreign_key="factory.id", max_length=40, index=True)
    brand_id: str = Field(foreign_key="brand.id", max_length=40, index=True)
    granted_at: datetime = Field(default_factory=utcnow)
    granted_by: str = Field(max_length=200)
    revoked_at: datetime | None = Field(default=None, index=True)
    revoked_by: str | None = Field(default=None, max_length=200)


# --- the Compliance Assessment Tool ---------------------------------------------------------


class Catalog(AssessmentTable, Versioned, table=True):
    """One version of a country's CAT. ``number`` is the catalogue version (1, 2, ...);
    ``version`` is the optimistic-lock counter every mutable table carries."""

    __tablename__ = "catalog"
    __table_args__ = (UniqueConstraint("country", "number"),)

    id: str = Field(primary_key=True, max_length=40)
    country: str = Field(max_length=2, index=True)
    number: int
    title: str | None = Field(default=None, max_length=500)
    status: str = Field(default="draft", max_length=20)
    previous_catalog_id: str | None = Field(default=None, foreign_key="catalog.id", max_length=40)
    meta: dict[str, Any] = _json_dict()
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class CatalogCluster(AssessmentTable, table=True):
    __tablename__ = "catalog_cluster"
    __table_args__ = (UniqueConstraint("catalog_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    catalog_id: str = Field(foreign_key="catalog.id", max_length=40, index=True)
    code: str = Field(max_length=20)
    name: str = Field(max_length=300)
    category: str | None = Field(default=None, max_length=60)
    position: int


class CatalogCompliancePoint(AssessmentTable, table=True):
    __tablename__ = "catalog_compliance_point"
    __table_args__ = (UniqueConstraint("catalog_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    catalog_id: str = Field(foreign_key="catalog.id", max_length=40, index=True)
    cluster_code: str = Field(max_length=20)
    code: str = Field(max_length=20)
    name: str = Field(max_length=300)
    position: int


class CatalogQuestion(AssessmentTable, table=True):
    __tablename__ = "catalog_question"
    __table_args__ = (UniqueConstraint("catalog_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    catalog_id: str = Field(foreign_key="catalog.id", max_length=40, index=True)
    cluster_code: str = Field(max_length=20)
    compliance_point_code: str = Field(max_length=20)
    code: str = Field(max_length=30)
    kind: str = Field(max_length=20)
    text_en: str
    text_uz: str | None = None
    text_ru: str | None = None
    noncompliant_answer: str | None = Field(default=None, max_length=10)
    legal_basis: str | None = None
    provenance: str | None = Field(default=None, max_length=40)
    previous_code: str | None = Field(default=None, max_length=30)
    position: int


class LegalThreshold(AssessmentTable, table=True):
    """A dated legal value a question is judged against (laws change: minimum wage by date)."""

    __tablename__ = "legal_threshold"

    id: int | None = Field(default=None, primary_key=True)
    catalog_id: str = Field(foreign_key="catalog.id", max_length=40, index=True)
    question_code: str | None = Field(default=None, max_length=30)
    name: str = Field(max_length=120)
    value: Decimal = Field(sa_type=Numeric(20, 4))
    unit: str | None = Field(default=None, max_length=40)
    valid_from: date
    valid_to: date | None = None
    legal_basis: str | None = None


# --- assessments and findings ---------------------------------------------------------------


class Assessment(AssessmentTable, Versioned, table=True):
    __tablename__ = "assessment"

    id: str = Field(primary_key=True, max_length=40)
    factory_id: str = Field(foreign_key="factory.id", max_length=40, index=True)
    catalog_id: str = Field(foreign_key="catalog.id", max_length=40, index=True)
    cycle: int
    revision: int = 1
    supersedes_id: str | None = Field(
        default=None, foreign_key="assessment.id", max_length=40, index=True
    )
    status: str = Field(default="scheduled", max_length=20, index=True)
    visit_type: str = Field(max_length=20)
    visit_start: date = Field(index=True)
    visit_end: date
    assessors: list[str] = _json_list()
    person_days: float | None = None
    process_integrity: dict[str, Any] = _json_dict()
    published_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AssessmentTransition(AssessmentTable, table=True):
    """Who moved an assessment from one status to another, and when."""

    __tablename__ = "assessment_transition"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", max_length=40, index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    actor_role: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=1000)
    occurred_at: datetime = Field(default_factory=utcnow)


class Finding(AssessmentTable, table=True):
    __tablename__ = "finding"
    __table_args__ = (UniqueConstraint("assessment_id", "question_code"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", max_length=40, index=True)
    question_code: str = Field(max_length=30)
    compliance_point_code: str = Field(max_length=20)
    cluster_code: str = Field(max_length=20)
    non_compliant: bool | None = None
    value: Any = Field(default=None, sa_type=JSON, nullable=True)
    notes: str | None = None
    evidence: list[str] = _json_list()
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)
