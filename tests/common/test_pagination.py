"""Keyset pagination under sorting: paging through a list with many ties returns every row
once, in order, in both directions, on SQLite and PostgreSQL; totals; cursors of another order."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from sqlalchemy import select

from services.common.db import Database
from services.common.pagination import (
    PageParams,
    Sorting,
    _from_cursor,
    decode_cursor,
    encode_cursor,
    paginate,
)
from services.common.problems import Problem
from tests.common.notes_app import Note, NoteOutbox

# Three texts over 23 rows: most rows tie with others on ``text``, and all on ``version`` (a new
# row's is 1). Ids and texts are lowercase ASCII and digits, which every collation orders alike.
TEXTS = ["beta", "alpha", "gamma"]
SORTING = Sorting(Note.id, text=Note.text, version=Note.version)


@pytest.fixture
async def notes(notes_database: Database) -> Database:
    async with notes_database.sessionmaker() as session:
        for i in range(23):
            session.add(Note(id=f"n{(i * 7) % 23:03d}", text=TEXTS[i % 3]))
        await session.commit()
    return notes_database


async def walk(database: Database, sort: str | None, limit: int) -> list[tuple[str, str, int]]:
    seen: list[tuple[str, str, int]] = []
    cursor = None
    for _ in range(100):
        async with database.sessionmaker() as session:
            params = PageParams(limit=limit, cursor=cursor, sort=sort)
            rows, cursor = await paginate(session, select(Note), SORTING, params)
        seen += [(r.id, r.text, r.version) for r in rows]
        if cursor is None:
            return seen
    raise AssertionError("the walk never ended")


def expected(sort: str | None) -> list[tuple[str, str, int]]:
    rows = [(f"n{(i * 7) % 23:03d}", TEXTS[i % 3], 1) for i in range(23)]
    field = (sort or "id").removeprefix("-")
    position = {"id": 0, "text": 1, "version": 2}[field]
    ordered = sorted(rows, key=lambda r: (r[position], r[0]))
    return ordered[::-1] if sort and sort.startswith("-") else ordered


@pytest.mark.parametrize("sort", [None, *SORTING.values])
@pytest.mark.parametrize("limit", [1, 4, 22, 23, 500])
async def test_paging_a_sorted_list_with_ties_returns_every_row_once_in_order(
    notes: Database, sort: str | None, limit: int
) -> None:
    assert await walk(notes, sort, limit) == expected(sort)


async def test_the_total_counts_the_filtered_list_not_the_page(notes: Database) -> None:
    async with notes.sessionmaker() as session:
        params = PageParams(limit=2, cursor=None, sort="-text", include_total=True)
        stmt = select(Note).where(Note.text != "alpha")  # type: ignore[arg-type]
        rows, _ = await paginate(session, stmt, SORTING, params)
        assert len(rows) == 2 and params.total == 15
        without = PageParams(limit=2, cursor=None)
        await paginate(session, select(Note), SORTING, without)
        assert without.total is None


async def first_cursor(database: Database, sort: str | None) -> str:
    async with database.sessionmaker() as session:
        _, cursor = await paginate(
            session, select(Note), SORTING, PageParams(limit=3, cursor=None, sort=sort)
        )
    assert cursor is not None
    return cursor


@pytest.mark.parametrize(
    ("issued_for", "used_with"), [("text", "-text"), ("text", None), (None, "text")]
)
async def test_a_cursor_of_another_order_is_a_400(
    notes: Database, issued_for: str | None, used_with: str | None
) -> None:
    cursor = await first_cursor(notes, issued_for)
    async with notes.sessionmaker() as session:
        with pytest.raises(Problem) as refused:
            await paginate(
                session, select(Note), SORTING, PageParams(limit=3, cursor=cursor, sort=used_with)
            )
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "position",
    [
        ["version", "1", "n001"],  # text where the column holds integers
        ["version", 2**70, "n001"],  # past 64 bits
        ["version", True, "n001"],
        ["version", 1, 5],  # a number for a text key
        ["version", 1, "n\u0000"],
        ["version", 1],
        ["version", 1, "n001", "extra"],
    ],
)
async def test_a_forged_sorted_cursor_is_a_400_not_a_database_error(
    notes: Database, position: list[Any]
) -> None:
    async with notes.sessionmaker() as session:
        params = PageParams(limit=3, cursor=encode_cursor(position), sort="version")
        with pytest.raises(Problem) as refused:
            await paginate(session, select(Note), SORTING, params)
    assert refused.value.status == 400


async def test_a_datetime_cursor_round_trips_and_a_naive_one_is_refused(
    notes_database: Database,
) -> None:
    sorting = Sorting(NoteOutbox.id, occurred_at=NoteOutbox.occurred_at)
    async with notes_database.sessionmaker() as session:
        for i in range(5):
            session.add(NoteOutbox(event_type="e", aggregate_type="note", aggregate_id=f"a{i}"))
            await session.flush()
        await session.commit()
        params = PageParams(limit=2, cursor=None, sort="-occurred_at")
        first, cursor = await paginate(session, select(NoteOutbox), sorting, params)
        assert cursor is not None
        sort, moment, key = decode_cursor(cursor)
        assert sort == "-occurred_at" and moment.endswith("+00:00") and key == first[-1].id
        params = PageParams(limit=10, cursor=cursor, sort="-occurred_at")
        rest, _ = await paginate(session, select(NoteOutbox), sorting, params)
        assert [r.id for r in [*first, *rest]] == [5, 4, 3, 2, 1]
        naive = encode_cursor(["-occurred_at", moment.removesuffix("+00:00"), key])
        with pytest.raises(Problem):
            params = PageParams(limit=2, cursor=naive, sort="-occurred_at")
            await paginate(session, select(NoteOutbox), sorting, params)


def test_an_unknown_sort_is_a_400_listing_the_allowed_ones() -> None:
    with pytest.raises(Problem) as refused:
        SORTING.check("colour")
    assert refused.value.status == 400
    assert refused.value.extra["allowed"] == ["id", "-id", "text", "-text", "version", "-version"]
    assert "-text" in refused.value.detail


def test_a_nullable_column_cannot_be_offered_for_sorting() -> None:
    with pytest.raises(ValueError, match="may be NULL"):
        Sorting(NoteOutbox.id, request_id=NoteOutbox.request_id)


def test_an_unknown_sort_names_itself_and_every_allowed_one_in_an_invalid_sort_problem() -> None:
    with pytest.raises(Problem) as refused:
        SORTING.check("colour")
    assert refused.value.type.endswith("/invalid-sort")
    assert refused.value.detail == (
        "This list cannot be sorted by 'colour'; use one of: "
        "id, -id, text, -text, version, -version."
    )
    assert refused.value.errors == [
        {"location": "/query/sort", "message": "Not a sort this list offers."}
    ]
    SORTING.check(None)  # no sort: key order, nothing to refuse
    SORTING.check("-version")


def test_the_key_takes_the_name_it_is_given() -> None:
    sorting = Sorting(Note.id, key_name="note", text=Note.text)
    assert sorting.values == ["note", "-note", "text", "-text"]
    assert sorting.fields == {"note": Note.id, "text": Note.text}
    sort = inspect.signature(sorting.page_params).parameters["sort"].default
    assert sort.description == (
        "Sort by `note`, `text`; prefix `-` for descending. Ties are broken by `note` in the "
        "same direction. Default: `note` ascending."
    )
    assert sort.json_schema_extra == {"x-sort-values": sorting.values}


async def test_the_sorted_dependency_carries_every_parameter_and_refuses_an_unknown_sort() -> None:
    # Built here, not at import: the dependency is made when a Sorting is.
    sorting = Sorting(Note.id, text=Note.text, version=Note.version)
    params = await sorting.page_params(limit=7, cursor="abc", sort="-text", include_total=True)
    assert params == PageParams(limit=7, cursor="abc", sort="-text", include_total=True)
    with pytest.raises(Problem) as refused:
        await sorting.page_params(limit=7, cursor=None, sort="colour", include_total=False)
    assert refused.value.extra["allowed"] == sorting.values


@pytest.mark.parametrize(
    ("issued_for", "used_with"), [("text", "-text"), ("text", None), (None, "text")]
)
async def test_a_cursor_of_another_order_is_refused_with_an_invalid_cursor_text(
    notes: Database, issued_for: str | None, used_with: str | None
) -> None:
    cursor = await first_cursor(notes, issued_for)
    async with notes.sessionmaker() as session:
        with pytest.raises(Problem) as refused:
            params = PageParams(limit=3, cursor=cursor, sort=used_with)
            await paginate(session, select(Note), SORTING, params)
    assert refused.value.type.endswith("/invalid-cursor")
    expected_detail = (
        "The cursor is not one this API issued."
        if used_with is None
        else "The cursor belongs to another sort order (or none): send the same `sort` as the "
        "request that returned it."
    )
    assert refused.value.detail == expected_detail


async def test_a_sorted_cursor_holds_the_sort_the_last_value_and_the_last_key(
    notes: Database,
) -> None:
    for sort in ("text", "-text", "-id", "version"):
        cursor = await first_cursor(notes, sort)
        first = (await walk(notes, sort, 500))[:3]
        field = {"id": 0, "text": 1, "version": 2}[sort.removeprefix("-")]
        assert decode_cursor(cursor) == [sort, first[-1][field], first[-1][0]]


async def test_a_list_without_sorting_refuses_any_sort(notes: Database) -> None:
    async with notes.sessionmaker() as session:
        with pytest.raises(Problem) as refused:
            params = PageParams(limit=3, cursor=None, sort="id")
            await paginate(session, select(Note), Note.id, params)
    assert refused.value.type.endswith("/invalid-sort")
    assert refused.value.detail == "This list cannot be sorted."


@pytest.mark.parametrize(
    ("value", "taken"), [(-(2**63), -(2**63)), (2**63 - 1, 2**63 - 1), (-(2**63) - 1, None)]
)
def test_an_integer_sort_value_may_be_any_64_bit_number(value: int, taken: int | None) -> None:
    assert _from_cursor(value, Note.version) == taken
