"""Server-side sessions, CSRF tokens and login throttling of the review app (in memory, per process).

A session is a random token (256 bits) the browser holds in an HttpOnly, SameSite=Strict cookie; the server
keeps only its SHA-256, with the user, a CSRF token and its times. A session ends at logout, after
``idle`` seconds without a request, or ``lifetime`` seconds after login. Restarting the server ends every
session. Login attempts are throttled per name and per client address: ``limit`` failures within ``window``
seconds refuse further attempts until the oldest failure leaves the window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.store.users import User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_token() -> str:
    """A fresh random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def tokens_equal(a: str | None, b: str | None) -> bool:
    """Constant-time comparison; False when either is missing or empty."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


@dataclass
class Session:
    """One logged-in browser: the user, its CSRF token, when it began and was last used."""

    user: User
    csrf: str
    created: float
    last_seen: float


@dataclass
class Sessions:
    """The live sessions, by token digest; thread-safe."""

    idle: float = 30 * 60
    lifetime: float = 12 * 3600
    clock: Callable[[], float] = time.monotonic
    _live: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, user: User) -> tuple[str, Session]:
        """A new session for ``user``: its token (for the cookie) and the session."""
        token = new_token()
        now = self.clock()
        session = Session(user, new_token(), now, now)
        with self._lock:
            self._drop_expired(now)
            self._live[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle clock restarted), or None (unknown, ended or expired)."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        key = _digest(token)
        with self._lock:
            session = self._live.get(key)
            if session is None:
                return None
            if now - session.last_seen > self.idle or now - session.created > self.lifetime:
                del self._live[key]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> Session | None:
        """End the session of ``token``; return it (None when there was none)."""
        if not token:
            return None
        with self._lock:
            return self._live.pop(_digest(token), None)

    def end_user(self, user_id: int) -> int:
        """End every session of the user ``user_id`` (disabled, or their password changed); return how many."""
        with self._lock:
            dead = [k for k, s in self._live.items() if s.user.id == user_id]
            for key in dead:
                del self._live[key]
        return len(dead)

    def update_user(self, user: User) -> None:
        """Give every live session of ``user.id`` this ``user`` (its new settings)."""
        with self._lock:
            for session in self._live.values():
                if session.user.id == user.id:
                    session.user = user

    def _drop_expired(self, now: float) -> None:
        dead = [k for k, s in self._live.items() if now - s.last_seen > self.idle or now - s.created > self.lifetime]
        for key in dead:
            del self._live[key]


@dataclass
class Throttle:
    """Failed logins per key (a name, a client address): at most ``limit`` within ``window`` seconds."""

    limit: int = 5
    window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked(self, *keys: str) -> float:
        """Seconds until an attempt for ``keys`` is allowed again (0: allowed now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        """Record one failed attempt against each of ``keys``."""
        now = self.clock()
        with self._lock:
            if len(self._failures) > self.max_keys:  # bounded memory under a flood of names
                self._failures.clear()
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys`` (after a good login)."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
