"""Mutation targets of the kernel's storage plumbing (issue 15): the SQLite driver, the alembic
plumbing, the idempotency purge and the OpenAPI contract. Collected by tests/mutate.py beside
tests/mutation_targets.py; equivalent mutants are marked here with the reason."""

from __future__ import annotations

from tests.mutation_targets import FIFTH, Equivalent, Target

COMMON = "services/common"

TARGETS: tuple[Target, ...] = (
    Target(
        "sqlite driver",
        (f"{COMMON}/sqlite_driver.py",),
        ("tests/common/test_db_round_trips.py", "tests/common/test_sqlite_driver_rules.py"),
        equivalents=(
            Equivalent(
                r"return raw\.fetchall\(\) if raw\.description else None$",
                "a statement without result columns has nothing to fetch: sqlite3's fetchall() "
                "gives [] for it, and SQLAlchemy never reads rows from such a cursor, so "
                "fetching always (the `or True` mutant) answers the same",
            ),
            Equivalent(
                r'\{"description": self\._cursor\.description\}',
                "sqlite3 keeps a closed cursor's description: with the memo's key misspelt the "
                "description property falls back to the closed cursor and reads the same value "
                "(the memo itself, and the close, are tested)",
            ),
        ),
    ),
    Target(
        "migrate",
        (f"{COMMON}/migrate.py",),
        ("tests/common/test_migrations.py", "tests/common/test_migrate_rules.py"),
        equivalents=(
            Equivalent(
                r'ScriptDirectory\.from_config\(alembic_config\(service, "", None\)\)',
                "a script directory reads only the migration files: the URL and schema it is "
                "given are never used",
            ),
            Equivalent(
                r"^\s+compare_type=True,$",
                "alembic compares column types unless compare_type is False itself (its default "
                "since 1.12): None or no argument compare the same (False dies by the "
                "autogenerate test)",
            ),
            Equivalent(
                r'config\.set_main_option\("(script_location|path_separator|version_locations)"',
                "alembic's configuration is a ConfigParser, whose option names are "
                "case-insensitive: SCRIPT_LOCATION is script_location (misspelt names die by "
                "the configuration test)",
            ),
            Equivalent(
                r"^    engine = make_engine\(url, schema\)$",
                "current_revision names the schema twice, in the engine's search_path and as "
                "the version table's schema: either alone finds the same table (dropping both "
                "would not be one mutant)",
            ),
            Equivalent(
                r'sync, opts=\{"version_table_schema": schema\}',
                "the engine's search_path is the schema: the unqualified version table is the "
                "schema's (the other half of the pair above)",
            ),
            Equivalent(
                r"^\s+version_table_schema=schema,$",
                "the migration's connection has the schema as its search_path, so alembic "
                "creates and reads an unqualified version table there (the tables of the "
                "migrations go there the same way, tested on PostgreSQL)",
            ),
            Equivalent(
                r'text\("SELECT 1 FROM pg_namespace WHERE nspname = :s"\)',
                "SQL keywords and unquoted identifiers are case-insensitive: the lower-cased "
                "query is the same query",
            ),
        ),
    ),
    Target(
        "idempotency purge",
        (f"{COMMON}/idempotency_purge.py",),
        (
            "tests/common/test_idempotency_purge.py",
            "tests/common/test_idempotency_purge_rules.py",
        ),
    ),
    Target(
        "openapi contract",
        (f"{COMMON}/openapi_contract.py", f"{COMMON}/openapi_schemas.py"),
        (
            "tests/common/test_openapi_contract_rules.py",
            "tests/common/test_openapi_responses_rules.py",
            "tests/common/test_openapi_schemas_rules.py",
            "tests/gateway/test_openapi_contract.py",
            "tests/gateway/test_problem_types.py",
        ),
        sample=FIFTH,
        equivalents=(
            Equivalent(
                r'method = sorted\(route\.methods or \{"GET"\}\)\[0\]',
                "an APIRoute always has its methods (FastAPI defaults to GET): the fallback "
                "is never used",
            ),
            Equivalent(
                r'route\.path\.strip\("/"\)\.split\("/"\)',
                "paths are lower-case: stripping 'X' as well as '/' from their ends strips the "
                "same",
            ),
            Equivalent(
                r'for p in operation\.get\("parameters", \[\]\) if p\.get\("in"\) == "query"',
                "the operation's parameters are set just before its errors are derived: the "
                "default is never used",
            ),
            Equivalent(
                r'item = document\.get\("paths", \{\}\)\.get\(route\.path\)',
                "FastAPI's document always has its paths, even none: the default is never used",
            ),
            Equivalent(
                r'has_path = bool\(route\.dependant\.path_params\) or "\{" in route\.path',
                "a path parameter is always a {name} of the path: the second half alone decides",
            ),
        ),
    ),
)
