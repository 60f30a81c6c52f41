"""`make mutate` targets of the kernel's app assembly (issue 15): the app factory, health,
request ids and the access log, the audit log and the inter-service HTTP client, each against
the tests that exercise it. Equivalent mutants are marked as in ``tests/mutation_targets.py``;
a pattern that matches the first line of a compound statement (``def``, ``for``, ``if``) makes
mutmut skip the whole statement, so such equivalents are left counted, as survivors, and named
in the Scores instead.

mutmut 3.8.1 leaves decorated functions unmutated, and with them the functions nested inside:
the app's lifespan (``@asynccontextmanager``), the health routes and the whole audit router
(``@cache``). Those were mutated by hand instead; tests/README.md's Scores say how."""

from __future__ import annotations

from tests.mutation_targets import COMMON, Equivalent, Target

HEADER_NAMES = "HTTP header names are case-insensitive (httpx's Headers too) for every client"

TARGETS: tuple[Target, ...] = (
    Target(
        "kernel app",
        (f"{COMMON}/app.py",),
        (
            "tests/common/test_access_declared.py",
            "tests/common/test_idempotency_purge.py",
            "tests/common/test_app_rules.py",
            "tests/common/test_app_query_guard.py",
        ),
    ),
    Target(
        "health",
        (f"{COMMON}/health.py",),
        ("tests/common/test_observability.py", "tests/common/test_health_rules.py"),
    ),
    Target(
        "observability",
        (f"{COMMON}/observability.py",),
        ("tests/common/test_observability.py", "tests/common/test_observability_rules.py"),
        equivalents=(
            Equivalent(
                r"^\s+self\._(second = -1|ts = \"\")$",
                "the first line's second always differs from the start value (no log line is "
                "written in 1970): whatever the start values, the first line works its stamp out",
            ),
            Equivalent(
                r"^\s+self\._second = second$",
                "without it every line works its stamp out anew: the same stamps, more slowly "
                "(bench/ measures that, no answer changes)",
            ),
            Equivalent(
                r"handler = logging\.StreamHandler\(sys\.stderr\)",
                "a StreamHandler given no stream writes to sys.stderr",
            ),
            Equivalent(
                r"^\s+incoming = None$",
                "an empty string is as false as None: either way a request id is made",
            ),
            Equivalent(
                r'incoming = value\.decode\("latin-1"\)',
                "codec names are case-insensitive: 'LATIN-1' is the same codec",
            ),
            Equivalent(
                r'self\.log\.name, level, "", 0, "request", \(\), None, extra=extra',
                "the record's file and line are never shown by the JSON line (the reason it is "
                "made by hand), and a message without arguments reads the same with () or None",
            ),
            Equivalent(
                r'path = scope\.get\("path", ""\)',
                "ASGI requires path in every http scope: the default is never used",
            ),
        ),
    ),
    Target(
        "audit",
        (f"{COMMON}/audit.py",),
        ("tests/common/test_audit.py", "tests/common/test_audit_rules.py"),
    ),
    Target(
        "http client",
        (f"{COMMON}/http_client.py",),
        (
            "tests/reporting/test_sync.py",
            "tests/reporting/test_sync_replicas.py",
            "tests/common/test_http_client_rules.py",
            "tests/common/test_http_client_failover.py",
        ),
        equivalents=(
            Equivalent(r'request\.headers\.setdefault\("x-request-id", request_id\)', HEADER_NAMES),
            Equivalent(r'keyed = "idempotency-key" in request\.headers', HEADER_NAMES),
            Equivalent(r'request\.headers\["host"\] = netloc', HEADER_NAMES),
            Equivalent(r'headers = \{"authorization": f"Bearer \{token\}"\}', HEADER_NAMES),
            Equivalent(
                r'^\s+base_url: str = "",$',
                "without a base every URL must be absolute, and an absolute URL ignores any "
                "base: a relative one fails alike against '' and 'XXXX'",
            ),
            Equivalent(
                r"limits=POOL_LIMITS",
                "httpx's own default limits are these same 100/20, so dropping the argument "
                "changes nothing today (test_timeouts_and_pool_are_the_platforms_unless_given "
                "still pins the pool should either change)",
            ),
        ),
    ),
)
