"""`make mutate` targets for the kernel's request handling (issue 15): the unknown-query guard,
the text filters, the raw-input guard, ids, the session aliases and the settings.

Each names its module's own rule tests first; see tests/mutation_targets.py for how targets,
samples and equivalents are declared.
"""

from __future__ import annotations

from tests.mutation_targets import Target

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
    ),
    Target(
        "input guard",
        (f"{COMMON}/input_guard.py",),
        ("tests/common/test_input_guard.py", "tests/common/test_input_guard_rules.py"),
    ),
    Target(
        "kernel settings",
        (f"{COMMON}/settings.py", f"{COMMON}/ids.py", f"{COMMON}/deps.py"),
        (
            "tests/common/test_settings.py",
            "tests/common/test_settings_rules.py",
            "tests/common/test_ids_rules.py",
        ),
    ),
)
