"""catalogues keep their author's status note

A CAT published on the platform so that assessments can use it may still be a draft in its
author's words; the annual report's methodology says so.

Revision ID: a3f9c2e81d47
Revises: 7b1e4d2a9c05
Create Date: 2026-11-25 19:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


# revision identifiers, used by Alembic.
revision: str = 'a3f9c2e81d47'
down_revision: Union[str, Sequence[str], None] = '7b1e4d2a9c05'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.drop_column('status_note')
