"""Small helpers shared by the training service's resource packages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from services.common.problems import Problem

# Ids minted by this platform (``fac_01J...``): safe to put in a URL path as they are.
ReferenceId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
# Compliance point and question codes of the CAT (``OSH.1``, ``COMP-3.12``).
CatCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
# ISO 3166-1 alpha-2, as the assessment service records a factory's country.
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


def today() -> date:
    return datetime.now(UTC).date()


def changes(body: BaseModel, required: set[str]) -> dict[str, Any]:
    """The fields a PATCH sets; an explicit null on a required field is a 422, not a crash."""
    data = body.model_dump(exclude_unset=True)
    nulled = sorted(name for name in required if name in data and data[name] is None)
    if nulled:
        raise Problem(
            422,
            "These fields cannot be cleared: " + ", ".join(nulled) + ".",
            title="Validation failed",
            errors=[
                {"location": f"body.{n}", "message": "may not be null", "type": "none_forbidden"}
                for n in nulled
            ],
        )
    return data


def check_period(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise Problem(
            422,
            "The end date is before the start date.",
            title="Validation failed",
            errors=[{"location": "body.end_date", "message": "before start_date", "type": "date"}],
        )
