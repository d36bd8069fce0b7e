"""Sessions and login throttling, on a clock the test turns."""

from __future__ import annotations

from cairn.review.auth import Sessions, Throttle, tokens_equal
from cairn.store.users import User

ANA = User(1, 1, "ana", "reviewer")


def test_sessions_expire_when_idle_and_at_their_lifetime() -> None:
    now = [0.0]
    sessions = Sessions(idle=10.0, lifetime=25.0, clock=lambda: now[0])
    token, session = sessions.start(ANA)
    assert sessions.get(token) is session and session.csrf and session.csrf != token
    for _ in range(2):
        now[0] += 9  # used within the idle time...
        assert sessions.get(token) is session
    now[0] += 9  # ...but 27 s after login: past the lifetime
    assert sessions.get(token) is None
    token, _ = sessions.start(ANA)
    now[0] += 11
    assert sessions.get(token) is None  # idle too long
    assert sessions.get(None) is None and sessions.get("") is None and sessions.get("x" * 500) is None


def test_ending_a_session_and_tokens_are_distinct() -> None:
    sessions = Sessions()
    tokens = {sessions.start(ANA)[0] for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 40 for t in tokens)
    token = next(iter(tokens))
    assert sessions.end(token) is not None and sessions.get(token) is None and sessions.end(token) is None


def test_throttle_counts_failures_per_key_within_the_window() -> None:
    now = [100.0]
    throttle = Throttle(limit=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.blocked("name:ana", "client:a") == 0
        throttle.failed("name:ana", "client:a")
        now[0] += 1
    assert 56 < throttle.blocked("name:ana") <= 58
    assert throttle.blocked("client:a") > 0 and throttle.blocked("name:bo", "client:b") == 0
    now[0] += 58  # the first failure leaves the window
    assert throttle.blocked("name:ana") == 0
    throttle.failed("name:bo")
    throttle.succeeded("name:bo")
    assert throttle.blocked("name:bo") == 0


def test_throttle_memory_is_bounded() -> None:
    throttle = Throttle(limit=2, window=60.0, max_keys=100)
    for i in range(1000):
        throttle.failed(f"name:{i}")
    assert len(throttle._failures) <= 101


def test_tokens_equal() -> None:
    assert tokens_equal("abc", "abc") and not tokens_equal("abc", "abd")
    assert not tokens_equal("", "") and not tokens_equal(None, "abc") and not tokens_equal("abc", None)
    assert not tokens_equal("\udcff", "abc")
