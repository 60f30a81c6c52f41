"""Attendance lists: row-by-row validation that names row numbers, and participant counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import product
from typing import Any

from pydantic import ValidationError

from services.common.problems import Problem
from services.training.training_sessions.schemas import ParticipantIn
from services.training.vocabulary import ParticipantRole, Sex


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


SEXES = tuple(sex.value for sex in Sex)
ROLES = tuple(role.value for role in ParticipantRole)
# Every (sex, role) an attended participant is counted under, in the order of their values.
SEX_ROLE_PAIRS: tuple[tuple[str, str], ...] = tuple(sorted(product(SEXES, ROLES)))


def empty_counts() -> dict[str, Any]:
    """The fields of ParticipantCounts for a list with nobody on it."""
    return {
        "total": 0,
        "registered": 0,
        "completed": 0,
        "by_sex": dict.fromkeys(SEXES, 0),
        "by_role": dict.fromkeys(ROLES, 0),
        "by_factory": {},
    }


def counts_by_session(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, Any]]:
    """Participant counts (the fields of ParticipantCounts) of each session in ``rows``, one row
    per session and factory: ``(session_id, factory_id, registered, attended, completed, *n)``
    where ``n`` counts those who attended under each of SEX_ROLE_PAIRS. Only those who attended
    count as participants; ``completed`` counts those who attended and completed.

    ``by_factory`` lists a session's factories (those with someone who attended) in the order
    of the first (sex, role) under which one of theirs attended, then by id: the order the
    counts have had since they were added up row by row from a GROUP BY of every column in that
    order, which SQLite returns sorted (PostgreSQL's order varied with the page). An attended
    participant of a sex or role the vocabulary does not have fails, as it always did."""
    counts: dict[str, dict[str, Any]] = {}
    factories: dict[str, list[tuple[int, str, int]]] = {}
    for session_id, factory_id, registered, attended, completed, *by_pair in rows:
        found = counts.get(session_id)
        if found is None:
            found = counts[session_id] = empty_counts()
            factories[session_id] = []
        found["registered"] += registered
        if not attended:
            continue
        found["total"] += attended
        found["completed"] += completed
        by_sex, by_role = found["by_sex"], found["by_role"]
        first = None
        for index, how_many in enumerate(by_pair):
            if how_many:
                sex, role = SEX_ROLE_PAIRS[index]
                by_sex[sex] += how_many
                by_role[role] += how_many
                if first is None:
                    first = index
        if first is None or sum(by_pair) != attended:
            raise ValueError(f"session {session_id}: participants of an unknown sex or role")
        factories[session_id].append((first, factory_id, attended))
    for session_id, attending in factories.items():
        counts[session_id]["by_factory"] = {f: n for _, f, n in sorted(attending)}
    return counts
