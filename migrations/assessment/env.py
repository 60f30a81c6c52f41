"""Alembic environment of the assessment service (see services/common/migrate.py)."""

from services.assessment.models import metadata
from services.common.migrate import run_env

run_env(metadata)
