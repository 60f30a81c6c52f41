"""Alembic environment of the reporting service (see services/common/migrate.py)."""

from services.common.migrate import run_env
from services.reporting.models import metadata

run_env(metadata)
