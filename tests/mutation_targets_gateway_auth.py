"""Mutation targets for the gateway's own token checks, and whole runs of the sampled kernel
auth and idempotency targets (issue 15). Collected by ``tests/mutate.py`` with the main list.

"gateway auth" mutates only the functions of the gateway that decide who a caller is: the
dispatch that sends every routed request through authentication, the check itself (token,
limits charged to address or subject), the identity it forwards and the stripping of a
client's own identity headers. The rest of those modules (proxying, health, replicas) belongs
to other targets, so its mutants are left out by name rather than counted here.
"""

from __future__ import annotations

from dataclasses import replace

from tests.mutation_targets import TARGETS as MAIN_TARGETS
from tests.mutation_targets import Target

_BY_NAME = {target.name: target for target in MAIN_TARGETS}

# mutmut's names: ``module.x_function__mutmut_N`` and ``module.xǁClassǁmethod__mutmut_N``.
GATEWAY_AUTH_FUNCTIONS = (
    "gateway.app.xǁProxyDispatchǁ__call____mutmut_*",
    "gateway.app.xǁProxyDispatchǁproxy__mutmut_*",
    "gateway.app.xǁProxyDispatchǁ_authenticate_within_limits__mutmut_*",
    "gateway.app.x__take__mutmut_*",
    "gateway.app.x__client_ip__mutmut_*",
    "gateway.proxy.x__request_headers__mutmut_*",
    # Where the proxy's rewrite for speed filters the client's headers (identity ones dropped).
    "gateway.proxy.xǁIncomingǁ__init____mutmut_*",
)

TARGETS: tuple[Target, ...] = (
    Target(
        "gateway auth",
        ("gateway/app.py", "gateway/proxy.py"),
        (
            "tests/gateway/test_identity_and_faults.py",
            "tests/gateway/test_rate_limits.py",
            "tests/gateway/test_gateway_auth_rules.py",
            # Incoming also reads the body's framing and the Idempotency-Key a retry needs.
            "tests/gateway/test_replicas.py",
            "tests/gateway/test_replicas_retry.py",
        ),
        sample=GATEWAY_AUTH_FUNCTIONS,
        # Equivalent but not marked: mutants that only change a header name's case
        # ("X-BW-SUBJECT", "RETRY-AFTER", b"X-REQUEST-ID", ...; HTTP header names are
        # case-insensitive and lower-cased by httpx, Starlette and servers) or a codec name's
        # ("LATIN-1"), or start Incoming's flags at None for False. A pattern marks a whole
        # line, and each of these lines holds mutants the tests kill (a renamed header, a lost
        # value, the 429's text), so marking them would hide killed mutants.
    ),
    Target(
        "gateway retries",
        ("gateway/proxy.py",),
        (
            "tests/gateway/test_replicas.py",
            "tests/gateway/test_replicas_retry.py",
            "tests/gateway/test_replicas_connect.py",
            "tests/gateway/test_replicas_http.py",
            "tests/gateway/test_upstream_concurrency.py",
            "tests/gateway/test_proxy_on_the_wire.py",
        ),
        # What a request to a replica goes through: the attempts, the retries and what is
        # answered when none is left (issue 12), not the header filtering "gateway auth" counts.
        sample=(
            "gateway.proxy.x_forward__mutmut_*",
            "gateway.proxy.x__cut_off__mutmut_*",
            "gateway.proxy.x_replayable__mutmut_*",
        ),
    ),
    # The kernel targets whole, not a fifth: for a figure of record, when there is an hour.
    replace(
        _BY_NAME["idempotency"],
        name="idempotency full",
        tests=(*_BY_NAME["idempotency"].tests, "tests/common/test_idempotency_full_rules.py"),
        sample=(),
    ),
    replace(
        _BY_NAME["auth"],
        name="auth full",
        tests=(*_BY_NAME["auth"].tests, "tests/common/test_auth_full_rules.py"),
        sample=(),
    ),
)
