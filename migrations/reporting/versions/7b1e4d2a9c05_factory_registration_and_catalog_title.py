"""factories record their registration, catalogues their title

The annual report counts the factories that participated during its year (a factory without a
participation start counts from its registration) and names the CAT by title and version.

Revision ID: 7b1e4d2a9c05
Revises: c3d4e5f6a7b8
Create Date: 2026-11-25 18:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


# revision identifiers, used by Alembic.
revision: str = '7b1e4d2a9c05'
down_revision: Union[str, Sequence[str], None] = 'c3d4e5f6a7b8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('factory', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.drop_column('title')
    with op.batch_alter_table('factory', schema=None) as batch_op:
        batch_op.drop_column('registered_at')
