"""SQLite backups through SQLite's online backup API: a consistent copy even while the service
writes (it copies one snapshot, and WAL readers never block), restored the same way so that no
stale ``-wal`` file of the replaced database survives next to the restored one."""

from __future__ import annotations

import sqlite3
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

from bw.backup_manifest import FeedPosition, ServicePositions


def copy_database(source: Path, target: Path, journal_mode: str) -> None:
    """Copy ``source`` into ``target`` (created or replaced) page by page, consistently; the
    copy is left in ``journal_mode`` (DELETE: one self-contained file for a backup)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(target)) as writer:
        reader.execute("PRAGMA busy_timeout=15000")
        writer.execute("PRAGMA busy_timeout=15000")
        reader.backup(writer)
        writer.execute(f"PRAGMA journal_mode={journal_mode}")
        writer.commit()


def _scalar(conn: sqlite3.Connection, sql: str) -> Any:
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError:  # table not there (not migrated that far)
        return None
    return row[0] if row else None


def read_positions(path: Path) -> ServicePositions:
    """Migration revision, outbox end and reporting's cursors, as the file holds them."""
    with closing(sqlite3.connect(path)) as conn:
        revision = _scalar(conn, "SELECT version_num FROM alembic_version")
        last = None
        with suppress(sqlite3.OperationalError):  # no outbox (not migrated that far)
            last = conn.execute(
                "SELECT id, occurred_at FROM outbox ORDER BY id DESC LIMIT 1"
            ).fetchone()
        cursors: dict[str, FeedPosition] = {}
        with suppress(sqlite3.OperationalError):  # not reporting's database
            rows = conn.execute("SELECT source, last_event_id, last_event_at FROM feed_cursor")
            cursors = {s: FeedPosition(int(i), str(at) if at else None) for s, i, at in rows}
    feed_end = FeedPosition(int(last[0]), str(last[1])) if last else FeedPosition(0, None)
    return ServicePositions(revision=revision, feed_end=feed_end, cursors=cursors)
