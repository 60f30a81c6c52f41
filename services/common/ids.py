"""Opaque, time-ordered ids: a short type prefix and a ULID (``fac_01J...``)."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"
