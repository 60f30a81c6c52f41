"""The assessment lifecycle as data: which status may follow which.

    scheduled -> in_progress -> draft -> (factory_review ->) published
    any status before published -> cancelled; factory_review -> draft (factory comments sent back)

Published and cancelled are final: a correction of a published assessment is a new revision.
"""

from __future__ import annotations

from enum import StrEnum


class AssessmentStatus(StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    draft = "draft"
    factory_review = "factory_review"
    published = "published"
    cancelled = "cancelled"


# The schema's name in the API (a bare ``Status`` is ambiguous to generated clients).
Status = AssessmentStatus


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.scheduled: frozenset({Status.in_progress, Status.cancelled}),
    Status.in_progress: frozenset({Status.draft, Status.cancelled}),
    Status.draft: frozenset({Status.factory_review, Status.published, Status.cancelled}),
    Status.factory_review: frozenset({Status.draft, Status.published, Status.cancelled}),
    Status.published: frozenset(),
    Status.cancelled: frozenset(),
}

FINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# Assessors record findings during and right after the visit, never once the factory reviews.
FINDINGS_OPEN = frozenset({Status.in_progress, Status.draft})


class IllegalTransition(Exception):
    def __init__(self, current: Status, target: Status) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        super().__init__(
            f"An assessment cannot go from {current} to {target}; "
            f"allowed from {current}: {allowed}."
        )
        self.current = current
        self.target = target


def allowed_transitions(current: Status | str) -> list[str]:
    return sorted(TRANSITIONS[Status(current)])


def check_transition(current: Status | str, target: Status | str) -> Status:
    """The target status if the move is legal; raises IllegalTransition otherwise."""
    current, target = Status(current), Status(target)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    return target
