"""rows record their country, so the country scope can filter them

Training rows that belong to a country programme (sessions, advisory visits, committees,
improvement plans and items, seminars) gain a ``country`` column, indexed: the kernel's country
scope filters lists on it and hides single rows outside it. New rows copy their factory's country
from the assessment service when they are created.

Existing rows: a factory's country lives in the assessment service, which a migration cannot ask
(it runs before the services start, and a service reads no other's tables). So:
- ``TRAINING_BACKFILL_COUNTRY=UZ`` (or ``-x backfill_country=UZ``) fills every existing row with
  that country: right for a deployment that has run one country programme so far;
- rows left empty are filled by the training service itself once it runs, from the assessment
  service (services/training/backfill.py); until then an empty row is seen only by callers without
  a country limit, never by a country-limited one (fail closed).

Revision ID: c3d4e5f6a7b8
Revises: b2c3d4e5f6a7
Create Date: 2026-11-25 18:30:00

"""
import os
import re
from typing import Sequence, Union

from alembic import context, op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


# revision identifiers, used by Alembic.
revision: str = 'c3d4e5f6a7b8'
down_revision: Union[str, Sequence[str], None] = 'b2c3d4e5f6a7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = (
    "training_session",
    "advisory_visit",
    "committee",
    "improvement_plan",
    "improvement_item",
    "seminar",
)


def backfill_country() -> str | None:
    value = context.get_x_argument(as_dictionary=True).get("backfill_country") or os.environ.get(
        "TRAINING_BACKFILL_COUNTRY"
    )
    if not value:
        return None
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError(f"backfill country must be an ISO 3166-1 alpha-2 code, not {value!r}")
    return value


def upgrade() -> None:
    """Upgrade schema."""
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True)
            )
            batch_op.create_index(batch_op.f(f'ix_{table}_country'), ['country'], unique=False)
    country = backfill_country()
    if country is not None:
        for table in TABLES:
            op.execute(
                sa.table(table, sa.column("country"))
                .update()
                .where(sa.column("country").is_(None))
                .values(country=country)
            )


def downgrade() -> None:
    """Downgrade schema."""
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_country'))
            batch_op.drop_column('country')
