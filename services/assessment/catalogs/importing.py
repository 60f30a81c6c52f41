"""Reading a CAT document (the format of cat-uz-draft.json): every problem named at once, and
the rows it becomes. Shared by the API and `bw catalog import`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.catalogs.schemas import CatalogImport, QuestionKind
from services.assessment.models import (
    Catalog,
    CatalogCluster,
    CatalogCompliancePoint,
    CatalogQuestion,
    LegalThreshold,
)
from services.common.problems import Problem


def import_errors(data: CatalogImport, previous_codes: set[str] | None) -> list[dict[str, Any]]:
    """Every problem with an import, so one answer names them all (nothing is stored)."""
    errors: list[dict[str, Any]] = []

    def duplicates(kind: str, codes: list[str]) -> None:
        for code, count in Counter(codes).items():
            if count > 1:
                errors.append(
                    {
                        "location": f"body.clusters.{kind}",
                        "message": f"{kind} code {code!r} appears {count} times",
                        "type": "duplicate_code",
                    }
                )

    triples = data.questions()
    duplicates("cluster", [c.code for c in data.clusters])
    duplicates("compliance_point", [p.code for c in data.clusters for p in c.compliance_points])
    question_codes = [q.code for _, _, q in triples]
    duplicates("question", question_codes)
    known = set(question_codes)
    for index, threshold in enumerate(data.thresholds):
        if threshold.question_code is not None and threshold.question_code not in known:
            errors.append(
                {
                    "location": f"body.thresholds.{index}.question_code",
                    "message": f"unknown question code {threshold.question_code!r}",
                    "type": "unknown_question",
                }
            )
    mapped = [q for _, _, q in triples if q.previous_code is not None]
    if mapped and previous_codes is None:
        errors.append(
            {
                "location": "body.previous_catalog_id",
                "message": "questions name a previous_code but no previous_catalog_id is given",
                "type": "missing",
            }
        )
    elif previous_codes is not None:
        for question in mapped:
            if question.previous_code not in previous_codes:
                errors.append(
                    {
                        "location": f"question {question.code}.previous_code",
                        "message": f"{question.previous_code!r} is not a question of the "
                        "previous catalogue",
                        "type": "unknown_previous_code",
                    }
                )
    return errors


def question_kind(kind: QuestionKind | None) -> str:
    return (kind or QuestionKind.finding).value


# --- reading ---------------------------------------------------------------------------------


async def previous_codes(session: AsyncSession, data: CatalogImport) -> set[str] | None:
    if data.previous_catalog_id is None:
        return None
    previous = await session.get(Catalog, data.previous_catalog_id)
    if previous is None or previous.country != data.country:
        raise Problem(
            422,
            f"previous_catalog_id {data.previous_catalog_id!r} is not a catalogue of "
            f"{data.country}.",
            title="Validation failed",
            errors=[
                {"location": "body.previous_catalog_id", "message": "unknown", "type": "unknown"}
            ],
        )
    result = await session.execute(
        select(col(CatalogQuestion.code)).where(col(CatalogQuestion.catalog_id) == previous.id)
    )
    return set(result.scalars())


async def validate(session: AsyncSession, data: CatalogImport) -> None:
    errors = import_errors(data, await previous_codes(session, data))
    if errors:
        raise Problem(
            422,
            f"The catalogue has {len(errors)} problem(s); nothing was stored.",
            title="Invalid catalogue",
            errors=errors,
        )


def content_rows(catalog_id: str, data: CatalogImport) -> list[Any]:
    rows: list[Any] = []
    position = 0
    for c_index, cluster in enumerate(data.clusters):
        rows.append(
            CatalogCluster(
                catalog_id=catalog_id,
                code=cluster.code,
                name=cluster.name,
                category=cluster.category,
                position=c_index,
            )
        )
        for p_index, point in enumerate(cluster.compliance_points):
            rows.append(
                CatalogCompliancePoint(
                    catalog_id=catalog_id,
                    cluster_code=cluster.code,
                    code=point.code,
                    name=point.name,
                    position=p_index,
                )
            )
            for question in point.questions:
                texts = question.texts()
                rows.append(
                    CatalogQuestion(
                        catalog_id=catalog_id,
                        cluster_code=cluster.code,
                        compliance_point_code=point.code,
                        code=question.code,
                        kind=question_kind(question.kind),
                        text_en=texts.en,
                        text_uz=texts.uz,
                        text_ru=texts.ru,
                        noncompliant_answer=question.noncompliant_answer,
                        legal_basis=question.legal_basis,
                        provenance=question.provenance,
                        previous_code=question.previous_code,
                        position=position,
                    )
                )
                position += 1
                for threshold in question.thresholds:
                    values = threshold.model_dump(exclude={"question_code"})
                    rows.append(
                        LegalThreshold(catalog_id=catalog_id, question_code=question.code, **values)
                    )
    for threshold in data.thresholds:
        rows.append(LegalThreshold(catalog_id=catalog_id, **threshold.model_dump()))
    return rows
