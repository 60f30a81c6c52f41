"""Alembic environment of the training service (see services/common/migrate.py)."""

from services.common.migrate import run_env
from services.training.models import metadata

run_env(metadata)
