"""Signatures per the Standard Webhooks spec, retry timing and URL safety: no database."""

from __future__ import annotations

import random

import pytest

from services.common.problems import Problem
from services.reporting.webhooks import policy, signing

# The example published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_spec_example_signs_to_the_spec_signature() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_carry_id_timestamp_and_one_signature_per_live_secret() -> None:
    other = signing.new_secret()
    headers = signing.headers([SPEC_SECRET, other], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == "1614265330"
    first, second = headers["webhook-signature"].split(" ")
    assert first == SPEC_SIGNATURE
    assert second == signing.sign(other, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    # A receiver holding either secret verifies the rotated message.
    signing.verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)
    signing.verify(other, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_a_new_secret_is_prefixed_base64_of_32_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(signing.secret_key(secret)) == 32
    assert signing.new_secret() != secret


@pytest.mark.parametrize(
    ("body", "secret", "now", "reason"),
    [
        (SPEC_BODY + b" ", SPEC_SECRET, SPEC_TIMESTAMP, "no signature matches"),
        (SPEC_BODY, "whsec_" + "A" * 44, SPEC_TIMESTAMP, "no signature matches"),
        (SPEC_BODY, SPEC_SECRET, SPEC_TIMESTAMP + 301, "timestamp"),
        (SPEC_BODY, SPEC_SECRET, SPEC_TIMESTAMP - 301, "timestamp"),
    ],
)
def test_verification_refuses_a_changed_body_a_wrong_secret_and_an_old_timestamp(
    body: bytes, secret: str, now: int, reason: str
) -> None:
    headers = signing.headers([SPEC_SECRET], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    with pytest.raises(signing.InvalidSignature, match=reason):
        signing.verify(secret, headers, body, now=now)


def test_retry_delay_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rand = random.Random(7)
    for attempts, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (12, 300.0)]:
        delays = [policy.retry_delay(attempts, 5.0, 300.0, rand) for _ in range(200)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling
        assert len(set(delays)) > 150  # jittered, not lockstep


def test_a_short_outage_never_disables_only_a_sustained_one() -> None:
    assert not policy.should_disable(50, 60.0, min_failures=10, min_seconds=3600)
    assert not policy.should_disable(9, 7200.0, min_failures=10, min_seconds=3600)
    assert policy.should_disable(10, 3600.0, min_failures=10, min_seconds=3600)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "ftp://example.org/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://user:pw@example.org/hook",
        "/relative",
    ],
)
def test_unsafe_urls_are_refused_with_a_422_naming_the_field(url: str) -> None:
    with pytest.raises(Problem) as caught:
        policy.check_url(url, allow_private=False)
    assert caught.value.status == 422
    assert caught.value.errors[0]["location"] == "/body/url"


def test_a_loopback_receiver_is_allowed_only_when_the_setting_says_so() -> None:
    policy.check_url("http://127.0.0.1:9999/hook", allow_private=True)
    policy.check_url("https://93.184.215.14/hook", allow_private=False)
    with pytest.raises(Problem):
        policy.check_url("ftp://127.0.0.1/hook", allow_private=True)
