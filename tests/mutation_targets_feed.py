"""Mutation target of the PostgreSQL feed's order (services/common/feed_order.py, ADR 0011):
positions, the xid8 type and the page served below the oldest open writer. Its rules are
PostgreSQL's, so run it with ``--postgres``; on SQLite only the position parsing is reached."""

from __future__ import annotations

from tests.mutation_targets import Target

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
