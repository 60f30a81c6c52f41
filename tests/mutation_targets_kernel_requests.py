"""`make mutate` targets for the kernel's request handling (issue 15): the unknown-query guard,
the text filters, the raw-input guard, and the settings with ids and the session aliases.

Each names its module's own rule tests (tests/common/test_<module>_rules.py) next to the tests
that were there before; see tests/mutation_targets.py for how targets, samples and equivalents
are declared. ``deps.py`` holds only ``Annotated`` aliases and ``ids.py`` one f-string: mutmut
makes no mutant of either, so they ride with the settings target and count nothing.
"""

from __future__ import annotations

from tests.mutation_targets import Equivalent, Target

COMMON = "services/common"

TARGETS: tuple[Target, ...] = (
    Target(
        "query guard",
        (f"{COMMON}/query_guard.py",),
        ("tests/common/test_query_guard_rules.py",),
    ),
    Target(
        "text filters",
        (f"{COMMON}/text_filters.py",),
        ("tests/common/test_text_filter_rules.py",),
        equivalents=(
            Equivalent(
                r'create_function\("lower", 1, _lower, deterministic=True\)',
                "SQLite's function names are case-insensitive: 'LOWER' replaces the same lower() "
                "(the line's other mutants die by the sqlite3 tests of test_text_filter_rules)",
            ),
        ),
    ),
    Target(
        "input guard",
        (f"{COMMON}/input_guard.py",),
        ("tests/common/test_input_guard.py", "tests/common/test_input_guard_rules.py"),
        equivalents=(
            Equivalent(
                r'_unstorable_url\(scope\.get\("query_string", b""\)\)',
                "the default stands only for a scope without a query string, and any default "
                "without '%' (b'XXXX') is judged as the empty one (the line's other mutants die "
                "by the path and query tests)",
            ),
            Equivalent(
                r'if not message\.get\("more_body", False\):',
                "a missing more_body and None both mean the last chunk, like False (the line's "
                "other mutants die by the chunked-body tests)",
            ),
            Equivalent(
                r'body = chunks\[0\] if len\(chunks\) == 1 else b""\.join\(chunks\)',
                "joining one chunk gives that chunk: the shortcut only saves a copy (the line's "
                "other mutants die by the chunked-body tests)",
            ),
            Equivalent(
                r"^\s+started = False$",
                "None is as false as False, and 'None or <comparison>' is the comparison",
            ),
            Equivalent(
                r'scope\.get\("path", ""\)',
                "an HTTP scope always carries its path (ASGI requires it): the default is never "
                "used (the two lines' other mutants die by the raw-path and exact-problem tests)",
            ),
            Equivalent(
                r"if 0xD800 <= code <= 0xDBFF:",
                "widening the high surrogates to 0xDC00 changes nothing: 0xDC00 is a low "
                "surrogate, refused by the line before (the line's other mutants die by the "
                "code-point table of test_input_guard_rules)",
            ),
        ),
    ),
    Target(
        "kernel settings",
        (f"{COMMON}/settings.py", f"{COMMON}/ids.py", f"{COMMON}/deps.py"),
        (
            "tests/common/test_settings.py",
            "tests/common/test_settings_rules.py",
            "tests/common/test_ids_rules.py",
        ),
        equivalents=(
            Equivalent(
                r'os\.environ\.get\(ENVIRONMENT_VARIABLE, ""\)',
                "with BW_ENV unset, any default that is not 'development' (''/'XXXX') means "
                "not development (the line's other mutants die by test_settings_rules)",
            ),
        ),
    ),
)
