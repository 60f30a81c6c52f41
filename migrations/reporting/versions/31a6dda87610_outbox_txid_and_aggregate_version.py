"""outbox events record their transaction id and their aggregate's version

On PostgreSQL the feed is served in (txid, id) order below the snapshot's xmin instead of
serialising writers on an advisory lock (ADR 0011); txid defaults to pg_current_xact_id().
On SQLite the column stays NULL: one writer at a time, the feed keeps id order.

Reporting follows the feeds by position: each cursor (the sources' and its own
outbox's) gains the transaction id, and applied_version keeps the newest version
applied per aggregate, since transaction-id order is not commit order.

Revision ID: 31a6dda87610
Revises: e1a0c0de0010
Create Date: 2026-11-26 00:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '31a6dda87610'
down_revision: Union[str, Sequence[str], None] = 'e1a0c0de0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        # Rows already there get the migration's own transaction id (one value, below every
        # later one), so they keep their id order at the head of the feed.
        op.execute("ALTER TABLE outbox ADD COLUMN txid xid8 DEFAULT pg_current_xact_id()")
    else:
        op.add_column("outbox", sa.Column("txid", sa.BigInteger(), nullable=True))
    op.add_column("outbox", sa.Column("aggregate_version", sa.BigInteger(), nullable=True))
    op.create_index("ix_outbox_txid_id", "outbox", ["txid", "id"], unique=False)
    op.add_column("feed_cursor", sa.Column("last_event_txid", sa.BigInteger(), nullable=True))
    op.add_column(
        "webhook_feed_cursor", sa.Column("last_event_txid", sa.BigInteger(), nullable=True)
    )
    op.create_table(
        "applied_version",
        sa.Column("aggregate_type", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("aggregate_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("aggregate_type", "aggregate_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("applied_version")
    op.drop_column("webhook_feed_cursor", "last_event_txid")
    op.drop_column("feed_cursor", "last_event_txid")
    op.drop_index("ix_outbox_txid_id", table_name="outbox")
    op.drop_column("outbox", "aggregate_version")
    op.drop_column("outbox", "txid")
