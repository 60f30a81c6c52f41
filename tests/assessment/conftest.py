"""Assessment tests build the statements they run afresh (as reporting's do, see
tests/reporting/conftest.py)."""

from __future__ import annotations

import pytest

from services.assessment.findings import service as findings

# The statements the assessment service builds once and keeps (SQLAlchemy statements are
# immutable; building one per request cost more than its parameters).
STATEMENT_CACHES = (findings._target_statement, findings._upsert)


@pytest.fixture(autouse=True)
def fresh_statement_caches() -> None:
    """Each test builds the statements it runs, so it exercises the code that builds them: a
    statement kept from an earlier test (or, in a mutation run, from before the mutant was
    switched on) would hide a change in that code."""
    for cached in STATEMENT_CACHES:
        cached.cache_clear()
