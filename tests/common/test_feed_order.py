"""The PostgreSQL feed's order, piece by piece (services/common/feed_order.py, ADR 0011): how a
position is parsed, keyed and written as SQL; the bound below which every writer of the outbox
has ended; and the wait for the transactions that hold events back. The wait is arranged, not
timed: a hook on the bound's reads ends a transaction at the moment under test, and a reader
that would poll on is stopped by a cap on those reads. tests/common/test_feed_xid.py has the
feed's behaviour end to end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

import services.common.feed_order as feed_order
from services.common.db import Database
from services.common.feed_order import MAX_CURSOR_PART, FeedPosition, position_literal
from services.common.outbox import ChangePage, read_changes
from tests.common.notes_app import NoteOutbox
from tests.common.notes_app import append_note_event as append
from tests.common.notes_app import current_txid as txid_of
from tests.support import backend

postgresql_only = pytest.mark.skipif(
    backend() != "postgresql", reason="transaction ids and snapshots are PostgreSQL's"
)
Hook = Callable[[], Awaitable[None]]
START = FeedPosition(0, 0)  # the feed's start as a position: no look-up of a bare id


# -- positions (both passes) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0", FeedPosition(None, 0)),
        ("12", FeedPosition(None, 12)),
        (12, FeedPosition(None, 12)),
        ("1539.12", FeedPosition(1539, 12)),
        ("0.0", FeedPosition(0, 0)),
        (" 1539.12\n", FeedPosition(1539, 12)),  # a query value's surrounding blanks
        (str(MAX_CURSOR_PART), FeedPosition(None, MAX_CURSOR_PART)),
        (f"{MAX_CURSOR_PART}.{MAX_CURSOR_PART}", FeedPosition(MAX_CURSOR_PART, MAX_CURSOR_PART)),
    ],
)
def test_a_position_parses_to_its_txid_and_id(given: str | int, expected: FeedPosition) -> None:
    assert FeedPosition.parse(given) == expected


@pytest.mark.parametrize(
    "given",
    ["", ".", "1.2.3", "5.", ".5", "1 2", "1. 2", "-1", "+1", "1_000", "a", "0x1f", "١٢", "1" * 20],
)
def test_anything_else_is_not_a_position(given: str) -> None:
    with pytest.raises(ValueError) as raised:
        FeedPosition.parse(given)
    # The message is the 422's detail: it names what was sent.
    assert str(raised.value) == f"not a feed position: {given.strip()!r}"


@pytest.mark.parametrize(
    "given",
    [
        str(MAX_CURSOR_PART + 1),
        f"{MAX_CURSOR_PART + 1}.1",
        f"1.{MAX_CURSOR_PART + 1}",
        "9" * 19,
        f"{'9' * 19}.0",
    ],
)
def test_a_part_past_a_bigint_is_out_of_range(given: str) -> None:
    with pytest.raises(ValueError) as raised:
        FeedPosition.parse(given)
    assert str(raised.value) == f"feed position out of range: {given!r}"


def test_a_position_prints_as_it_is_parsed() -> None:
    assert str(FeedPosition(None, 12)) == "12"
    assert str(FeedPosition(1539, 12)) == "1539.12"
    assert str(FeedPosition(0, 0)) == "0.0"
    for value in ("12", "1539.12", f"{MAX_CURSOR_PART}.{MAX_CURSOR_PART}"):
        assert str(FeedPosition.parse(value)) == value


def test_a_bare_id_keys_below_every_transaction() -> None:
    """A bare id (SQLite, or before the switch-over) sorts as transaction 0: the Feed-Event of a
    request keeps the greatest position it appended."""
    assert FeedPosition(None, 12).key() == (0, 12)
    assert FeedPosition(1539, 12).key() == (1539, 12)
    assert FeedPosition(0, 3).key() == (0, 3)
    positions = [FeedPosition(7, 1), FeedPosition(None, 9), FeedPosition(3, 5)]
    ordered = sorted(positions, key=FeedPosition.key)
    assert ordered == [FeedPosition(None, 9), FeedPosition(3, 5), FeedPosition(7, 1)]


# -- PostgreSQL: positions as SQL values ---------------------------------------------------


@postgresql_only
@pytest.mark.parametrize(
    ("position", "row"),
    [
        (FeedPosition(None, 5), "('0'::xid8, 5::bigint)"),
        (FeedPosition(0, 0), "('0'::xid8, 0::bigint)"),
        (FeedPosition(1539, 2**40), f"('1539'::xid8, {2**40}::bigint)"),
        (
            FeedPosition(MAX_CURSOR_PART, MAX_CURSOR_PART),
            f"('{MAX_CURSOR_PART}'::xid8, {MAX_CURSOR_PART}::bigint)",
        ),
    ],
)
async def test_a_position_is_the_row_of_its_txid_and_id(
    notes_database: Database, position: FeedPosition, row: str
) -> None:
    """A bare id is transaction 0; both parts reach 2**63-1 (xid8 and bigint)."""
    async with notes_database.sessionmaker() as session:
        same = await session.scalar(select(position_literal(position) == literal_column(row)))
    assert same is True


# -- PostgreSQL: helpers --------------------------------------------------------------------


async def complete_a_later_transaction(database: Database) -> None:
    """Takes an id and commits, so every id assigned so far is below the snapshots' xmax (an
    open transaction is then among a snapshot's open ones, not past its end)."""
    async with database.sessionmaker() as session:
        await txid_of(session)
        await session.commit()


def names(page: ChangePage) -> list[str]:
    return [event.aggregate_id for event in page.items]


class BoundReads:
    """``served_below`` counted, with hooks run before or after a given read of the bound, and
    a cap: a read past it fails the test (a reader polling on when it should have returned)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cap: int) -> None:
        self.count = 0
        self.cap = cap
        self.before: dict[int, Hook] = {}
        self.after: dict[int, Hook] = {}
        read = feed_order.served_below

        async def counted(session: AsyncSession, table: str) -> int:
            self.count += 1
            if self.count > self.cap:
                pytest.fail(f"the reader read the bound a {self.count}th time")
            if hook := self.before.get(self.count):
                await hook()
            bound = await read(session, table)
            if hook := self.after.get(self.count):
                await hook()
            return bound

        monkeypatch.setattr(feed_order, "served_below", counted)


@pytest.fixture
def outbox_reads(notes_database: Database) -> Iterator[list[str]]:
    """The statements that read the outbox table itself (the page, and what is held back)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM outbox" in statement:
            seen.append(statement)

    engine = notes_database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


# -- PostgreSQL: the bound ------------------------------------------------------------------


class StatusCheckHook:
    """A session whose hook runs just before ``served_below`` asks whether the transactions
    holding no lock in the schema are still in progress: after the snapshot and locks were
    read."""

    def __init__(self, session: AsyncSession, hook: Hook) -> None:
        self.session = session
        self.hook = hook
        self.checked = False

    async def execute(self, statement: Any, params: Any = None) -> Any:
        if "pg_xact_status" in str(statement):
            self.checked = True
            await self.hook()
        return await self.session.execute(statement, params)


@postgresql_only
async def test_an_open_writer_of_the_outbox_holds_the_bound_at_its_id(
    notes_database: Database,
) -> None:
    """Also while another schema's transaction is open (the status check then runs too)."""
    async with (
        notes_database.sessionmaker() as elsewhere,
        notes_database.sessionmaker() as writer,
        notes_database.sessionmaker() as reader,
    ):
        await txid_of(elsewhere)
        await append(writer, "open")
        writer_txid = await txid_of(writer)
        await complete_a_later_transaction(notes_database)
        bound = await feed_order.served_below(reader, "outbox")
    assert bound <= writer_txid


@postgresql_only
async def test_an_open_transaction_of_another_schema_is_passed_over(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as elsewhere, notes_database.sessionmaker() as reader:
        other_txid = await txid_of(elsewhere)
        await complete_a_later_transaction(notes_database)
        bound = await feed_order.served_below(reader, "outbox")
    assert bound > other_txid


@postgresql_only
async def test_one_that_ended_after_the_locks_were_read_counts_as_open(
    notes_database: Database,
) -> None:
    """It held no lock in the schema when they were read, perhaps because it had just ended:
    it may have written the outbox, its events invisible to the snapshot taken before."""
    async with notes_database.sessionmaker() as elsewhere, notes_database.sessionmaker() as reader:
        other_txid = await txid_of(elsewhere)
        await complete_a_later_transaction(notes_database)
        checking = StatusCheckHook(reader, elsewhere.commit)
        bound = await feed_order.served_below(checking, "outbox")  # type: ignore[arg-type]
    assert checking.checked
    assert bound <= other_txid


# -- PostgreSQL: the wait for held-back events ----------------------------------------------


@postgresql_only
async def test_without_a_wait_the_page_is_read_once_and_says_what_is_held_back(
    notes_database: Database, outbox_reads: list[str]
) -> None:
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")
        await append(late, "late")
        await late.commit()
        outbox_reads.clear()
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, START, 10, hold_wait=0)
        assert (names(page), page.has_more) == ([], True)
        assert len(outbox_reads) == 2  # the page, and what is held back: no second read
        await early.commit()
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, "0", 2, hold_wait=0)
    assert (names(page), page.has_more) == (["early", "late"], False)  # a full page, no more


@postgresql_only
@pytest.mark.parametrize("hold_wait", [0.5, 30.0])
async def test_a_holder_that_ends_while_the_reader_waits_is_served_in_the_same_read(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch, hold_wait: float
) -> None:
    """The reader returns once the holder has ended, well before its deadline: the cap allows
    a few more reads of the bound (a transaction elsewhere in the cluster may end between two
    statements of one), not a poll every 20 ms until the deadline."""
    reads = BoundReads(monkeypatch, cap=6)
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")
        await append(late, "late")
        await late.commit()
        reads.before[2] = early.commit  # ends during the first poll
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, "0", 2, hold_wait=hold_wait)
    assert (names(page), page.has_more) == (["early", "late"], False)
    assert reads.count >= 2


@postgresql_only
async def test_a_holder_that_ends_just_after_the_bound_was_read_is_waited_for(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its events then sit exactly at the bound, not above it: still held back, still waited
    for."""
    reads = BoundReads(monkeypatch, cap=6)
    async with notes_database.sessionmaker() as writer:
        await append(writer, "only")
        await complete_a_later_transaction(notes_database)
        reads.after[1] = writer.commit
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, "0", 10, hold_wait=30)
    assert (names(page), page.has_more) == (["only"], False)


@postgresql_only
async def test_a_wait_that_reaches_its_deadline_serves_what_ended_meanwhile_and_no_further(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first holder ends during the wait, the second never does: the page stops below the
    second, and says events are held back."""
    reads = BoundReads(monkeypatch, cap=1000)
    async with (
        notes_database.sessionmaker() as first,
        notes_database.sessionmaker() as second,
        notes_database.sessionmaker() as late,
    ):
        await append(first, "first")
        await append(second, "second")
        await append(late, "late")
        await late.commit()
        reads.before[2] = first.commit
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, "0", 10, hold_wait=0.05)
    assert (names(page), page.has_more) == (["first"], True)
    assert reads.count >= 2


@postgresql_only
async def test_a_reader_inside_its_own_writing_transaction_does_not_wait_for_itself(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own events are visible to it and above any bound it can read: waiting for them would
    last the whole hold wait, on every read."""
    reads = BoundReads(monkeypatch, cap=1)
    async with notes_database.sessionmaker() as other, notes_database.sessionmaker() as reader:
        await append(other, "other")
        await append(reader, "own")
        page = await read_changes(reader, NoteOutbox, "0", 10, hold_wait=30)
    assert (names(page), page.has_more) == ([], True)
    assert reads.count == 1


@postgresql_only
async def test_a_page_that_ends_inside_a_transaction_resumes_with_the_rest_of_it(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as writer:
        for name in ("a", "b", "c"):
            await append(writer, name)
        await writer.commit()
    async with notes_database.sessionmaker() as session:
        # A wait: on a busy cluster another transaction ending mid-read holds the bound back.
        first = await read_changes(session, NoteOutbox, "0", 2, hold_wait=5)
        rest = await read_changes(session, NoteOutbox, first.next_cursor, 2, hold_wait=5)
    assert (names(first), first.has_more) == (["a", "b"], True)
    assert (names(rest), rest.has_more) == (["c"], False)


@postgresql_only
async def test_events_are_served_in_transaction_order_not_id_order_across_pages(
    notes_database: Database,
) -> None:
    """A transaction that took its id first but appended last has the greater event id: served
    by id, a page break between the two would skip it for good."""
    async with notes_database.sessionmaker() as first, notes_database.sessionmaker() as second:
        await txid_of(first)
        await append(second, "second")
        await append(first, "first")  # the greater id, the smaller transaction id
        await first.commit()
        await second.commit()
    served: list[str] = []
    cursor = "0"
    async with notes_database.sessionmaker() as session:
        for _ in range(10):
            page = await read_changes(session, NoteOutbox, cursor, 1, hold_wait=30)
            served += names(page)
            cursor = page.next_cursor
            if not page.has_more:
                break
    assert served == ["first", "second"]


@postgresql_only
async def test_a_page_reads_one_event_past_its_limit_and_no_more(
    notes_database: Database,
) -> None:
    """``limit + 1`` rows: the one past the page tells the caller there is more."""
    async with notes_database.sessionmaker() as writer:
        for name in ("a", "b", "c", "d", "e"):
            await append(writer, name)
        await writer.commit()
    async with notes_database.sessionmaker() as session:
        rows, _ = await feed_order.page_below(session, NoteOutbox, START, 2, 0)
    assert [row.aggregate_id for row in rows] == ["a", "b", "c"]


@postgresql_only
async def test_events_held_back_before_the_cursor_do_not_count(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cursor past the held-back events (one from a later read, or sent by hand): nothing
    after it is held back, so the reader neither waits nor is told to come back."""
    reads = BoundReads(monkeypatch, cap=1)
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")
        await append(late, "late")
        await late.commit()
        found = await late.execute(text("SELECT txid::text, id FROM outbox"))
        txid, ident = found.one()
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, f"{txid}.{ident}", 10, hold_wait=30)
    assert (names(page), page.has_more) == ([], False)
    assert reads.count == 1
