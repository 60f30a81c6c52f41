"""outbox ids are 64-bit on PostgreSQL

A change feed outlives 2**31 events; a reader asking after a larger id must get an answer,
not an overflow. SQLite's rowid is 64-bit already, so nothing changes there.

Revision ID: b2c3d4e5f6a7
Revises: f4278b82d816
Create Date: 2026-11-25 12:35:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b2c3d4e5f6a7'
down_revision: Union[str, Sequence[str], None] = 'f4278b82d816'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_context().dialect.name != "postgresql":
        return
    op.alter_column("outbox", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
    op.execute("ALTER SEQUENCE IF EXISTS outbox_id_seq AS bigint")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("ALTER SEQUENCE IF EXISTS outbox_id_seq AS integer")
    op.alter_column("outbox", "id", type_=sa.Integer(), existing_type=sa.BigInteger())
