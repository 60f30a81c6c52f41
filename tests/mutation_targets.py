"""What `make mutate` mutates, and against which tests (issue 15).

Each target names the modules whose mutants are counted together, the test files that exercise
them (mutmut runs, for each mutant, only those of these tests that reach the mutated function),
and, where a module yields hundreds of mutants, a sample of them. A figure, not a CI gate: see
tests/README.md for the latest scores and `tests/mutate.py` for how they are run.

Equivalent mutants are marked here, the tool's own way (mutmut's ``do_not_mutate_patterns``: a
regular expression over source lines), each with the reason it cannot be told apart by any test.
Marking them here rather than with ``# pragma: no mutate`` keeps production files untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Equivalent:
    """Source lines (regular expression) whose mutants behave exactly like the original."""

    pattern: str
    reason: str


@dataclass(frozen=True)
class Target:
    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    # fnmatch patterns over mutant names (``pkg.module.x_function__mutmut_12``); empty: all.
    sample: tuple[str, ...] = ()
    equivalents: tuple[Equivalent, ...] = field(default_factory=tuple)


# Mutants whose number ends in 0 or 5: a fifth, chosen deterministically, so two runs sample the
# same mutants. For the modules with hundreds of mutants, on two cores shared by a team.
FIFTH = ("*__mutmut_*0", "*__mutmut_*5")
# Numbers ending in an odd digit: half.
HALF = tuple(f"*__mutmut_*{d}" for d in "13579")

COMMON = "services/common"

TARGETS: tuple[Target, ...] = (
    Target(
        "etag",
        (f"{COMMON}/etag.py",),
        (
            "tests/common/test_etag.py",
            "tests/common/test_etag_rules.py",
            "tests/gateway/test_not_modified.py",
        ),
        equivalents=(
            Equivalent(
                r'title="Precondition (Failed|Required)"',
                "the title named is the status phrase, Problem's default title: dropping it "
                "changes nothing",
            ),
            Equivalent(
                r'request\.headers\.get\("if-match"\)',
                "Starlette's request headers are case-insensitive: 'IF-MATCH' finds the same",
            ),
        ),
    ),
    Target(
        "idempotency",
        (f"{COMMON}/idempotency.py",),
        (
            "tests/common/test_idempotency.py",
            "tests/common/test_idempotency_rules.py",
            "tests/common/test_idempotency_full_rules.py",
        ),
        sample=FIFTH,
        equivalents=(
            Equivalent(
                r'\.(de|en)code\("latin-1"\)',
                "codec names are case-insensitive: 'LATIN-1' is the same codec",
            ),
            Equivalent(
                r'return (str\(claims\.get\("sub", "unknown"\)\)|"invalid-token"|"anonymous")$',
                "labels for callers without a valid subject: such a request fails authentication "
                "(401), so nothing is ever stored under the label",
            ),
            Equivalent(
                r'if scope\["type"\] == "http" else None',
                "a lifespan scope has no headers and a websocket no method, so either way the "
                "request passes through untouched",
            ),
            Equivalent(
                r'for part in \(scope\.get\("method", ""\)',
                "only POSTs reach the hash and the key's scope holds the path already: leaving "
                "method or path out of the hash changes no answer",
            ),
            Equivalent(
                r'if not message\.get\("more_body", False\):',
                "a missing more_body and None both mean the last chunk, like False",
            ),
            Equivalent(
                r'\(b"idempotent-replayed", b"true"\)',
                "HTTP header names are case-insensitive for every client",
            ),
            Equivalent(
                r"(_send_problem|_answer_earlier)\(scope, receive, send",
                "a Starlette response only sends: the receive channel handed to it is never read",
            ),
            Equivalent(
                r"for _attempt in range\(3\):",
                "a fourth attempt matters only to a claim that lost three races in a row for one "
                "key, which no test (and no client) can arrange",
            ),
            Equivalent(
                r'getattr\(claimed, "rowcount", 0\) == 1',
                "an INSERT's result always has a rowcount: the default is never used",
            ),
            Equivalent(
                r'\(b"content-length", str\(len\(body\)\)\.encode\(\)\)',
                "HTTP header names are case-insensitive for every client",
            ),
            Equivalent(
                r"^\s+key_matches,$",
                "dropping it lets a claim also delete other keys' expired or abandoned records, "
                "which would be ignored and replaced on their next use anyway",
            ),
        ),
    ),
    Target(
        "pagination",
        (f"{COMMON}/pagination.py",),
        (
            "tests/common/test_pagination.py",
            "tests/common/test_pagination_rules.py",
            "tests/common/test_pagination_rows.py",
            "tests/common/test_page_response.py",
        ),
        sample=FIFTH,
        equivalents=(
            Equivalent(
                r'\.decode\(\)\.rstrip\("="\)$',
                "a cursor is base64 of JSON, which ends in '\"', a digit, ']', '}' or a letter of "
                "true/false/null: its last base64 character is never 'X', so stripping 'X' "
                "as well as '=' strips the same (the line's other mutants die by the padding "
                "and round-trip tests)",
            ),
        ),
    ),
    Target(
        "scope",
        (f"{COMMON}/scope.py",),
        ("tests/common/test_scope_rules.py", "tests/gateway/test_access_matrix_countries.py"),
    ),
    Target(
        "auth",
        (f"{COMMON}/auth.py",),
        (
            "tests/common/test_auth.py",
            "tests/common/test_auth_rules.py",
            "tests/common/test_auth_full_rules.py",
        ),
        sample=FIFTH,
        equivalents=(
            Equivalent(
                r'title="Forbidden",',
                "the title named is the status phrase, Problem's default title for 403",
            ),
            Equivalent(
                r'request\.headers\.get\("authorization"\)',
                "Starlette's request headers are case-insensitive",
            ),
        ),
    ),
    Target(
        "problems",
        (f"{COMMON}/problems.py",),
        ("tests/common/test_problems.py", "tests/common/test_problem_rules.py"),
        sample=FIFTH,
    ),
    Target(
        "outbox",
        (f"{COMMON}/outbox.py",),
        (
            "tests/common/test_change_feed.py",
            "tests/common/test_outbox_rules.py",
            "tests/common/test_outbox_feed_cursor.py",
            "tests/common/test_feed_xid.py",
            "tests/reporting/test_write_freshness.py",
        ),
        # Equivalent but not marked (each line also holds mutants the tests kill, which a
        # pattern would hide): the 422's title dropped or None (Problem's default title for 422
        # is the same "Validation failed"); read_changes parsing a FeedPosition it was given
        # (parse(str(p)) == p); SQLite's page fetching all rows or limit + 2, or unordered (a
        # rowid range scan comes in id order; has_more and the page are the same); the start
        # of a bare id below every event as (None, 0), (0, None), (1, 0), (0, 1) or (None, id)
        # instead of (0, 0): every real transaction id is at least 3, so each is before every
        # event (a None txid is written as 0; against a NULL id the txid alone decides).
        equivalents=(
            Equivalent(
                r'headers = \[\*message\.get\("headers", \[\]\), \(b"feed-event", value\)\]',
                "header names are case-insensitive, and every response start Starlette sends "
                "carries its headers, so the default is never used",
            ),
        ),
    ),
    Target(
        "db",
        (f"{COMMON}/db.py",),
        ("tests/common/test_unit_of_work.py", "tests/common/test_db_rules.py"),
        equivalents=(
            Equivalent(
                r'"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000',
                "the busy_timeout PRAGMA every new SQLite connection runs next sets the same "
                "wait and overrides the driver's timeout",
            ),
            Equivalent(
                r'kwargs\["module"\] = sqlite_dbapi\(\)',
                "the same SQLite driver either way; this one only saves thread hops (bench/)",
            ),
            Equivalent(
                r'"server_settings": \{"search_path": schema\}',
                "PostgreSQL setting names are case-insensitive: SEARCH_PATH is search_path "
                "(the other mutants of this line are killed by the PostgreSQL-only test)",
            ),
            Equivalent(
                r"expire_on_commit=False\)",
                "None is as false as False",
            ),
            Equivalent(
                r'options = \{"sqlite_begin": "DEFERRED"\} if self\.is_sqlite else _AUTOCOMMIT',
                "SQL keywords are case-insensitive; and on PostgreSQL a read inside a READ "
                "COMMITTED transaction sees what it sees without one: the difference is two round "
                "trips, measured in bench/, not an answer",
            ),
        ),
    ),
    Target(
        "assessment methodology",
        ("services/assessment/findings/methodology.py",),
        ("tests/assessment/test_methodology.py", "tests/assessment/test_methodology_rules.py"),
    ),
    Target(
        "state machine",
        ("services/assessment/assessments/state_machine.py",),
        ("tests/assessment/test_state_machine.py", "tests/assessment/test_lifecycle_rules.py"),
    ),
    Target(
        "reporting methodology",
        (
            "services/reporting/compliance/service.py",
            "services/reporting/compliance/report.py",
            "services/reporting/compliance/selection.py",
        ),
        (
            "tests/reporting/test_methodology.py",
            "tests/reporting/test_methodology_rules.py",
            "tests/reporting/test_compliance_report.py",
            "tests/reporting/test_catalogue_order.py",
            "tests/reporting/test_disclosure.py",
            "tests/reporting/test_disclosure_rules.py",
        ),
        # Equivalent, left unmarked (each shares its line with mutants the tests kill):
        # question_items' sort defaults for a question no catalogue names ("" / None / "XXXX"
        # for its cluster, no default for its CP, 10_000 / 10_001 / None for its position):
        # every such question takes the same default, so they tie alike and fall back to the
        # code, and a known one's place (below 10_000) always comes first; rate_report's
        # labels key over the first four columns instead of three (the fourth is the scope's
        # factory count: a key that differs by it only reloads the same labels);
        # compliance_point_items' fallback cluster with no default (every CP in the grouped
        # rows is among the recorded CPs it is looked up in); on SQLite only, factory_share's
        # NULLIF(applicable, NULL), since SQLite divides by zero into the same NULL (on
        # PostgreSQL it would raise for an assessment with no applicable CP, which no test
        # of this target has).
        sample=FIFTH,
        equivalents=(
            Equivalent(
                r'^\s+"withheld": None,$',
                "the rate's withheld defaults to None: a misspelt key is dropped and the same "
                "None stands",
            ),
        ),
    ),
    Target(
        "disclosure",
        ("services/reporting/disclosure.py",),
        (
            "tests/reporting/test_disclosure.py",
            "tests/reporting/test_disclosure_proof.py",
            "tests/reporting/test_disclosure_rules.py",
        ),
        sample=FIFTH,
    ),
    Target(
        "gateway rate limit",
        ("gateway/ratelimit.py",),
        (
            "tests/gateway/test_rate_limits.py",
            "tests/gateway/test_rate_limit_rules.py",
            "tests/gateway/test_redis_limits.py",
        ),
    ),
)
