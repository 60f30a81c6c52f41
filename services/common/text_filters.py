"""One rule for text filters on lists (docs/api-conventions.md, "Filters"):

- identifiers and codes (ids, ISO country codes, question and compliance-point codes, statuses
  and other enumerations, token subjects) match **exactly**, case included: they are not words,
  and ``cl-1-1`` is not a code this API issues;
- free text people type (a region, an ownership, a name prefix) matches **case-insensitively**,
  in every script the platform stores (Uzbek Latin and Cyrillic, Russian, English): ``region=
  samarkand`` finds ``Samarkand``, ``name_prefix=фарғ`` finds ``Фарғона``. A prefix's ``%`` and
  ``_`` are literal characters, never patterns.

Routers declare such a parameter with :func:`free_text_query` (its description says so in the
OpenAPI document); services filter with :func:`text_equals` or :func:`text_starts_with`.

SQLite's own ``lower()`` folds ASCII only, so :func:`register_sqlite_functions` (called on every
new SQLite connection by services/common/db.py) replaces it with Python's, which folds every
script as PostgreSQL's ``lower()`` does under a UTF-8 locale.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query
from sqlalchemy import ColumnElement, false, func, or_

FREE_TEXT = "Free text: matched case-insensitively (docs/api-conventions.md, Filters)."
PREFIX = "Matches names that start with this text, case-insensitively; `%` and `_` are literal."


def free_text_query(*, description: str = "", **kwargs: Any) -> Any:
    """``Query(None, ...)`` for a free-text filter, its matching rule in its description."""
    text = f"{description} {FREE_TEXT}".strip()
    return Query(None, description=text, **kwargs)


def prefix_query(**kwargs: Any) -> Any:
    """``Query(None, ...)`` for a name-prefix filter."""
    return Query(None, min_length=1, description=PREFIX, **kwargs)


def text_equals(column: Any, value: str) -> ColumnElement[bool]:
    """Free-text equality, case-insensitive in every script."""
    return func.lower(column) == value.lower()


def text_starts_with(value: str, *columns: Any) -> ColumnElement[bool]:
    """Any of ``columns`` starts with ``value``, case-insensitively; wildcards are literal."""
    if not columns:
        return false()
    prefix = value.lower()
    return or_(*(func.lower(column).startswith(prefix, autoescape=True) for column in columns))


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Make SQLite's ``lower()`` fold every script, not only ASCII (see the module's note)."""
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
