"""per-assessment flag tables are stored in key order on SQLite (WITHOUT ROWID)

Every rate and trend reads these tables by assessment id and needs the non-compliance flag
beside the code. As rowid tables, SQLite found each row through the primary-key index and
then fetched the flag from the table (one more b-tree search per row: 500,000 for the
question rates of a year on the bench data). Clustered on the primary key, the key search
finds the whole row, the table and its index are one b-tree instead of two (a third smaller
on disk, and the sync writes each row once). PostgreSQL has no such option: nothing changes
there.

Revision ID: b7e2f4a91c3d
Revises: 31a6dda87610
Create Date: 2026-11-26 00:40:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'b7e2f4a91c3d'
down_revision: Union[str, Sequence[str], None] = '31a6dda87610'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FLAG_TABLES = ("assessment_question", "assessment_compliance_point", "assessment_cluster")


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in FLAG_TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
        ):
            pass


def upgrade() -> None:
    """Upgrade schema."""
    _rebuild(with_rowid=False)


def downgrade() -> None:
    """Downgrade schema."""
    _rebuild(with_rowid=True)
