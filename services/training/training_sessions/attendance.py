"""Attendance lists: row-by-row validation that names row numbers, and participant counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from services.common.problems import Problem
from services.training.models import Participant
from services.training.training_sessions.schemas import ParticipantCounts, ParticipantIn


def validate_rows(
    rows: list[dict[str, Any]], session_factory_ids: Iterable[str]
) -> list[ParticipantIn]:
    """Every row valid, or a 422 listing every bad row (1-based) and field; nothing partial."""
    allowed = set(session_factory_ids)
    valid: list[ParticipantIn] = []
    errors: list[dict[str, Any]] = []
    for row_number, row in enumerate(rows, start=1):
        try:
            participant = ParticipantIn.model_validate(row)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(part) for part in err["loc"]) or "row"
                errors.append(_row_error(row_number, field, err["msg"], err["type"]))
            continue
        if participant.factory_id not in allowed:
            errors.append(
                _row_error(
                    row_number,
                    "factory_id",
                    f"factory {participant.factory_id!r} does not take part in this session",
                    "unknown_factory",
                )
            )
            continue
        valid.append(participant)
    if errors:
        bad_rows = sorted({e["row"] for e in errors})
        shown = ", ".join(str(n) for n in bad_rows[:20]) + (" ..." if len(bad_rows) > 20 else "")
        raise Problem(
            422,
            f"{len(bad_rows)} of {len(rows)} rows are invalid (rows {shown}); nothing was stored.",
            title="Invalid attendance list",
            errors=errors,
        )
    return valid


def _row_error(row: int, field: str, message: str, kind: str) -> dict[str, Any]:
    return {
        "row": row,
        "field": field,
        "location": f"body.participants[{row}].{field}",
        "message": f"row {row}: {message}",
        "type": kind,
    }


def count_participants(participants: Iterable[Participant]) -> ParticipantCounts:
    counts = ParticipantCounts()
    for person in participants:
        add_to_counts(
            counts, person.sex, person.role, person.factory_id, person.attended, person.completed
        )
    return counts


def add_to_counts(
    counts: ParticipantCounts,
    sex: str,
    role: str,
    factory_id: str,
    attended: bool,
    completed: bool,
    how_many: int = 1,
) -> None:
    """Count ``how_many`` alike participants: only those who attended count as participants."""
    counts.registered += how_many
    if not attended:
        return
    counts.total += how_many
    counts.completed += how_many if completed else 0
    setattr(counts.by_sex, sex, getattr(counts.by_sex, sex) + how_many)
    setattr(counts.by_role, role, getattr(counts.by_role, role) + how_many)
    counts.by_factory[factory_id] = counts.by_factory.get(factory_id, 0) + how_many
