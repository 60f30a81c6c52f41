"""Mutation target of the PostgreSQL feed's order (services/common/feed_order.py, ADR 0011):
positions, the xid8 type and the page served below the oldest open writer. Its rules are
PostgreSQL's, so run it with ``--postgres``; on SQLite only the position parsing is reached."""

from __future__ import annotations

from tests.mutation_targets import Target

# No Equivalent patterns: each equivalent mutant shares its line with killed ones (a pattern
# drops the whole line). The equivalent survivors, for the report:
# - parse: ``position.txid or 1`` in the range check: 1 is never over 2**63-1.
# - position_literal: ``literal(position.id)`` with no type, or a None type: SQLAlchemy types a
#   value past 32 bits BIGINT itself, and PostgreSQL compares integer with bigint.
# - page_below: ``time.monotonic() <= deadline``: the same float twice, never observed.
# - page_below: the early return's flag on a page past ``limit`` made False: its one caller,
#   read_changes, ORs it with ``len(rows) > limit``.
# - served_below: the status query's keywords lower-cased: SQL keywords are case-insensitive.

TARGETS: tuple[Target, ...] = (
    Target(
        "feed order",
        ("services/common/feed_order.py",),
        (
            "tests/common/test_feed_order.py",
            "tests/common/test_feed_xid.py",
            "tests/common/test_change_feed.py",
            "tests/common/test_outbox_rules.py",
            "tests/reporting/test_sync_versions.py",
            "tests/reporting/test_write_freshness.py",
        ),
    ),
)
