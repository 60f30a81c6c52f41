"""outbox events record their transaction id and their aggregate's version

On PostgreSQL the feed is served in (txid, id) order below the snapshot's xmin instead of
serialising writers on an advisory lock (ADR 0011); txid defaults to pg_current_xact_id().
On SQLite the column stays NULL: one writer at a time, the feed keeps id order.

Revision ID: 3c1bb6936bd1
Revises: c3d4e5f6a7b8
Create Date: 2026-11-26 00:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3c1bb6936bd1'
down_revision: Union[str, Sequence[str], None] = 'c3d4e5f6a7b8'
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


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_outbox_txid_id", table_name="outbox")
    op.drop_column("outbox", "aggregate_version")
    op.drop_column("outbox", "txid")
