"""How PostgreSQL's change feed is ordered without a lock (ADR 0011; the outbox module says
why): positions ``(txid, id)``, the ``xid8`` column type and its default, and the page of
events whose transactions, and every transaction below them that may write the outbox, have
ended. SQLite's feed needs none of this (one writer at a time, id order)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, cast, func, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import UserDefinedType

MAX_CURSOR_PART = 2**63 - 1
# How long a PostgreSQL feed read waits for open transactions that hold events back (below).
HOLD_WAIT_SECONDS = 2.0
HOLD_POLL_SECONDS = 0.02
# A cursor or a Feed-Event position: ``<id>`` (SQLite, or before the switch-over) or
# ``<txid>.<id>`` (PostgreSQL).
POSITION_PATTERN = r"[0-9]{1,19}(\.[0-9]{1,19})?"


@dataclass(frozen=True)
class FeedPosition:
    """Where an event sits in its feed; ``txid`` is None for a bare id (SQLite's feed)."""

    txid: int | None
    id: int

    @classmethod
    def parse(cls, value: str | int) -> FeedPosition:
        """``"12"`` or ``"1539.12"``; ValueError for anything else or a part over 2**63-1."""
        raw = str(value).strip()
        if not re.fullmatch(POSITION_PATTERN, raw):
            raise ValueError(f"not a feed position: {raw!r}")
        txid, _, ident = raw.rpartition(".")
        position = cls(int(txid) if txid else None, int(ident))
        if max(position.txid or 0, position.id) > MAX_CURSOR_PART:
            raise ValueError(f"feed position out of range: {raw!r}")
        return position

    def key(self) -> tuple[int, int]:
        return (self.txid or 0, self.id)

    def __str__(self) -> str:
        return str(self.id) if self.txid is None else f"{self.txid}.{self.id}"


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (asyncpg reads and writes it as an int)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "xid8"


ischema_names["xid8"] = Xid8  # reflected as itself, so migrations compare equal to the models


class CurrentXactId(FunctionElement[int]):
    """``pg_current_xact_id()`` on PostgreSQL; NULL elsewhere (SQLite's feed orders by id)."""

    inherit_cache = True
    type = BigInteger()


@compiles(CurrentXactId, "postgresql")
def _current_xact_id_postgresql(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "pg_current_xact_id()"


@compiles(CurrentXactId)
def _current_xact_id_elsewhere(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "NULL"


TXID_TYPE = BigInteger().with_variant(Xid8(), "postgresql")


def position_literal(position: FeedPosition) -> Any:
    """``(txid, id)`` as SQL values; xid8 has a cast from text only."""
    txid = cast(literal(str(position.txid or 0)), Xid8())
    return tuple_(txid, literal(position.id, BigInteger()))


async def page_below(
    session: AsyncSession,
    model: Any,
    start: FeedPosition,
    limit: int,
    hold_wait: float,
) -> tuple[list[Any], bool]:
    """Up to ``limit + 1`` events after ``start`` whose transactions, and every transaction
    below them that may write this outbox, have ended; and whether events are held back. When
    a short page leaves events behind, wait up to ``hold_wait`` seconds for the transactions
    holding them to end and read again: a writer that has just committed finds its event
    served while other writers are in flight, and a long transaction only delays the feed,
    never loses an event."""
    table = str(model.__tablename__)
    txid: Any = model.txid
    after_start = tuple_(txid, model.id) > position_literal(start)

    async def page(bound: int) -> list[Any]:
        below = txid < cast(literal(str(bound)), Xid8())
        stmt = select(model).where(after_start, below).order_by(txid, model.id).limit(limit + 1)
        return list((await session.execute(stmt)).scalars().all())

    async def held(bound: int) -> int | None:
        at_or_above = txid >= cast(literal(str(bound)), Xid8())
        value = await session.scalar(select(func.max(txid)).where(after_start, at_or_above))
        return None if value is None else int(value)

    bound = await served_below(session, table)
    rows = await page(bound)
    if len(rows) > limit:
        return rows, True
    waiting_for = await held(bound)
    # A reader whose own transaction has an id (one holding a lock) would wait for itself.
    own = await session.scalar(select(func.pg_current_xact_id_if_assigned()))
    if waiting_for is None or own is not None or hold_wait <= 0:
        return rows, waiting_for is not None
    deadline = time.monotonic() + hold_wait
    while bound <= waiting_for and time.monotonic() < deadline:
        await asyncio.sleep(HOLD_POLL_SECONDS)
        bound = await served_below(session, table)
    rows = await page(bound)
    return rows, len(rows) > limit or await held(bound) is not None


# The snapshot's open transactions, each with whether it holds a lock on a relation in the
# outbox's schema. Locks are read after the snapshot was taken (it is the statement's).
_OPEN_TRANSACTIONS = text(
    """
    WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    locks AS MATERIALIZED (
        SELECT locktype, virtualtransaction, transactionid, database, relation FROM pg_locks
    ),
    ours AS MATERIALIZED (
        SELECT t.transactionid
        FROM locks t JOIN locks r ON r.virtualtransaction = t.virtualtransaction
        WHERE t.locktype = 'transactionid' AND r.locktype = 'relation'
          AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND r.relation IN (
              SELECT oid FROM pg_class
              WHERE relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass(:t))
          )
    )
    SELECT pg_snapshot_xmax(snap.s)::text AS xmax, x::text AS xid,
           EXISTS (SELECT 1 FROM ours WHERE ours.transactionid = x::xid) AS ours
    FROM snap LEFT JOIN LATERAL pg_snapshot_xip(snap.s) AS x ON true
    """
)


async def served_below(session: AsyncSession, table: str) -> int:
    """The transaction id below which every transaction that may write ``table`` has ended.

    The snapshot's xmin would do, but it counts every open transaction of the cluster (other
    services' schemas, other databases), so one long transaction anywhere would hold every
    feed back. A transaction gets its id at its first write, and one that writes a service's
    outbox writes only that service's schema (ADR 0004), so from then on it holds a lock on a
    relation there. An open transaction holding none when the locks were read, and still open
    after, belongs to another schema and never writes this outbox: it is passed over. One that
    ended meanwhile counts as open (its events may be invisible to this snapshot)."""
    rows = (await session.execute(_OPEN_TRANSACTIONS, {"t": table})).all()
    bound = int(rows[0].xmax)
    others = [int(row.xid) for row in rows if row.xid is not None and not row.ours]
    mine = [int(row.xid) for row in rows if row.xid is not None and row.ours]
    if others:  # asked after the locks were read: still open means it held none then
        status = text("SELECT x, pg_xact_status(x::xid8) FROM unnest(CAST(:xs AS text[])) AS x")
        ended = await session.execute(status, {"xs": [str(x) for x in others]})
        mine += [int(x) for x, state in ended.all() if state != "in progress"]
    return min([bound, *mine])
