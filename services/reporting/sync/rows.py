"""What every applier shares: the event type, per-page context, value parsing and portable
upserts (PostgreSQL and SQLite both speak INSERT ... ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import ReportingTable

Event = dict[str, Any]


@dataclass
class ApplyContext:
    """What one page's applies share: the question kinds of each catalog seen so far."""

    question_kinds: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def display_text(value: Any) -> str | None:
    """Question text as the report shows it: English if the source sends several languages."""
    if isinstance(value, dict):
        value = value.get("en") or next(iter(value.values()), None)
    return None if value is None else str(value)


def as_int(value: Any) -> int:
    return int(value) if value is not None else 0


async def upsert(
    session: AsyncSession,
    model: type[ReportingTable],
    rows: list[dict[str, Any]],
    keys: Iterable[str] = ("id",),
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL alike."""
    if not rows:
        return
    table: Any = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    key_names = list(keys)
    changed = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key_names}
    if changed:
        statement = statement.on_conflict_do_update(index_elements=key_names, set_=changed)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=key_names)
    await session.execute(statement, rows)


async def insert_rows(
    session: AsyncSession, model: type[ReportingTable], rows: list[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]


# --- assessment feed -------------------------------------------------------------------------
