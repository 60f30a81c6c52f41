"""Ids (issue 15): a type prefix, an underscore and a ULID, so that ids sort by creation time
and say what they name (``fac_01J...``)."""

from __future__ import annotations

from ulid import ULID

from services.common.ids import new_id


def test_an_id_is_its_prefix_and_a_ulid() -> None:
    ident = new_id("fac")
    prefix, _, rest = ident.partition("_")
    assert prefix == "fac"
    assert str(ULID.from_str(rest)) == rest and len(rest) == 26


def test_ids_are_unique_and_sort_by_creation() -> None:
    made = [new_id("note") for _ in range(50)]
    assert len(set(made)) == len(made)
    assert [ULID.from_str(i.removeprefix("note_")).timestamp for i in made] == sorted(
        ULID.from_str(i.removeprefix("note_")).timestamp for i in made
    )
