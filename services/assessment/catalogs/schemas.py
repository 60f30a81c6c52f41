"""The CAT import format (that of cat-uz-draft.json, plus optional translations, kinds, dated
legal thresholds and version mapping) and the catalogue as read back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.assessment.models import Catalog, LegalThreshold

if TYPE_CHECKING:  # the service builds the structure from these schemas' rows
    from services.assessment.catalogs.service import CatalogStructure

CODE = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class QuestionKind(StrEnum):
    finding = "finding"
    information = "information"


class CatalogStatus(StrEnum):
    draft = "draft"
    published = "published"


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    en: str = Field(min_length=1, max_length=4000)
    uz: str | None = Field(default=None, max_length=4000)
    ru: str | None = Field(default=None, max_length=4000)


class ThresholdIn(BaseModel):
    """A legal value in force from ``valid_from`` (to ``valid_to``, inclusive, if it ended)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, examples=["minimum_monthly_wage"])
    value: Decimal = Field(max_digits=20, decimal_places=4)
    unit: str | None = Field(default=None, max_length=40, examples=["UZS"])
    valid_from: date
    valid_to: date | None = None
    legal_basis: str | None = Field(default=None, max_length=2000)
    question_code: str | None = Field(default=None, max_length=30)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = CODE
    text: Annotated[str, Field(min_length=1, max_length=4000)] | Texts = Field(
        description="English text, or {en, uz, ru}."
    )
    text_uz: str | None = Field(default=None, max_length=4000)
    text_ru: str | None = Field(default=None, max_length=4000)
    kind: QuestionKind | None = Field(
        default=None, description="finding (default) or information (never counts)."
    )
    noncompliant_answer: str | None = Field(default=None, max_length=10)
    legal_basis: str | None = Field(default=None, max_length=2000)
    provenance: str | None = Field(default=None, max_length=40)
    previous_code: str | None = Field(
        default=None, max_length=30, description="Code of this question in the previous version."
    )
    thresholds: list[ThresholdIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _information_has_no_answer(self) -> QuestionIn:
        if self.kind == QuestionKind.information and self.noncompliant_answer is not None:
            raise ValueError("an information-only question has no non-compliant answer")
        return self

    def texts(self) -> Texts:
        if isinstance(self.text, Texts):
            return Texts(
                en=self.text.en,
                uz=self.text.uz or self.text_uz,
                ru=self.text.ru or self.text_ru,
            )
        return Texts(en=self.text, uz=self.text_uz, ru=self.text_ru)


class CompliancePointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = CODE
    name: str = Field(min_length=1, max_length=300)
    questions: list[QuestionIn] = Field(min_length=1, max_length=200)


class ClusterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = CODE
    name: str = Field(min_length=1, max_length=300)
    category: str | None = Field(default=None, max_length=60)
    compliance_points: list[CompliancePointIn] = Field(min_length=1, max_length=100)


class CatalogImport(BaseModel):
    """A whole catalogue version. ``meta`` is kept verbatim (title, status note, provenance)."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.")
    title: str | None = Field(default=None, max_length=500)
    previous_catalog_id: str | None = Field(default=None, max_length=40)
    meta: dict[str, Any] = Field(default_factory=dict)
    thresholds: list[ThresholdIn] = Field(default_factory=list, max_length=500)
    clusters: list[ClusterIn] = Field(min_length=1, max_length=50)

    def questions(self) -> list[tuple[ClusterIn, CompliancePointIn, QuestionIn]]:
        return [
            (cluster, point, question)
            for cluster in self.clusters
            for point in cluster.compliance_points
            for question in point.questions
        ]


class ThresholdRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    value: Decimal
    unit: str | None
    valid_from: date
    valid_to: date | None
    legal_basis: str | None
    question_code: str | None

    @classmethod
    def of(cls, threshold: LegalThreshold) -> ThresholdRead:
        return cls.model_validate(threshold)


class QuestionRead(BaseModel):
    code: str
    kind: QuestionKind
    text: Texts
    noncompliant_answer: str | None
    legal_basis: str | None
    provenance: str | None
    previous_code: str | None


class CompliancePointRead(BaseModel):
    code: str
    name: str
    questions: list[QuestionRead]


class ClusterRead(BaseModel):
    code: str
    name: str
    category: str | None
    compliance_points: list[CompliancePointRead]


class CatalogFields(BaseModel):
    """What a catalogue version is, in a list and read whole."""

    id: str
    country: str
    version: int = Field(description="Catalogue version number within the country: 1, 2, ...")
    title: str | None
    status: CatalogStatus
    previous_catalog_id: str | None
    question_count: int
    created_at: datetime
    published_at: datetime | None


class CatalogSummary(CatalogFields):
    @classmethod
    def of(cls, catalog: Catalog, question_count: int) -> CatalogSummary:
        return cls(**_summary_fields(catalog, question_count))


def _summary_fields(catalog: Catalog, question_count: int) -> dict[str, Any]:
    return {
        "id": catalog.id,
        "country": catalog.country,
        "version": catalog.number,
        "title": catalog.title,
        "status": catalog.status,
        "previous_catalog_id": catalog.previous_catalog_id,
        "question_count": question_count,
        "created_at": catalog.created_at,
        "published_at": catalog.published_at,
    }


class CatalogRead(CatalogFields):
    meta: dict[str, Any]
    thresholds: list[ThresholdRead]
    clusters: list[ClusterRead]

    @classmethod
    def of(cls, structure: CatalogStructure) -> CatalogRead:
        """The catalogue whole: clusters, their compliance points and questions, in the order
        they were imported, with the dated legal thresholds."""
        points_of: dict[str, list[Any]] = {}
        for point in structure.points:
            points_of.setdefault(point.cluster_code, []).append(point)
        questions_of: dict[str, list[Any]] = {}
        for question in structure.questions:
            questions_of.setdefault(question.compliance_point_code, []).append(question)
        clusters = [
            ClusterRead(
                code=cluster.code,
                name=cluster.name,
                category=cluster.category,
                compliance_points=[
                    CompliancePointRead(
                        code=point.code,
                        name=point.name,
                        questions=[
                            QuestionRead(
                                code=q.code,
                                kind=q.kind,
                                text=Texts(en=q.text_en, uz=q.text_uz, ru=q.text_ru),
                                noncompliant_answer=q.noncompliant_answer,
                                legal_basis=q.legal_basis,
                                provenance=q.provenance,
                                previous_code=q.previous_code,
                            )
                            for q in questions_of.get(point.code, [])
                        ],
                    )
                    for point in points_of.get(cluster.code, [])
                ],
            )
            for cluster in structure.clusters
        ]
        return cls(
            **_summary_fields(structure.catalog, len(structure.questions)),
            meta=structure.catalog.meta,
            thresholds=[ThresholdRead.of(t) for t in structure.thresholds],
            clusters=clusters,
        )
