"""Sign-in for the chat page: the password check Gradio calls, with failures throttled.

Gradio's ``auth`` function is given the user name and password only, not the request, so the
failures are counted per user name tried rather than per address. That cannot be dodged by
changing address, and it is what protects the one account a page has; the cost is that anyone
can make that account wait by failing on purpose, which the cap on the wait bounds
(``MAX_WAIT_S``). After ``FREE_FAILURES`` failures in a row, every attempt for that name is
refused, the right password included, for a wait that doubles with each further failure;
a success clears the count. The refusal is an HTTP 429 that says how long to wait.

Names tried are remembered in a bounded table (``MAX_NAMES``, oldest forgotten first), so a
flood of made-up names cannot grow memory without bound.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 3
FIRST_WAIT_S = 2.0
MAX_WAIT_S = 300.0
MAX_NAMES = 1024


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0  # no attempt is checked before this time


class LoginThrottle:
    """``check(user, password)`` for Gradio's ``auth``: True for the right pair; False for a
    wrong one; an HTTP 429 (``fastapi.HTTPException``) while the name must wait."""

    def __init__(self, user: str, password: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._user = user.encode("utf-8")
        self._password = password.encode("utf-8")
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, user: str, password: str) -> bool:
        with self._lock:
            failures = self._failures.get(user)
            wait = failures.until - self._clock() if failures else 0.0
            if wait > 0:
                self._refuse(wait)
            right = hmac.compare_digest(user.encode("utf-8"), self._user) & hmac.compare_digest(
                password.encode("utf-8"), self._password
            )
            if right:
                self._failures.pop(user, None)
                return True
            self._fail(user)
            return False

    def wait_for(self, user: str) -> float:
        """Seconds before an attempt for ``user`` is checked again (0 when it would be now)."""
        with self._lock:
            failures = self._failures.get(user)
            return max(0.0, failures.until - self._clock()) if failures else 0.0

    def _fail(self, user: str) -> None:
        failures = self._failures.pop(user, None) or _Failures()
        failures.count += 1
        if failures.count >= FREE_FAILURES:
            wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (failures.count - FREE_FAILURES))
            failures.until = self._clock() + wait
        self._failures[user] = failures  # most recent last
        while len(self._failures) > MAX_NAMES:
            self._failures.popitem(last=False)

    @staticmethod
    def _refuse(wait: float) -> None:
        from fastapi import HTTPException

        raise HTTPException(
            status_code=429,
            detail=f"Too many failed sign-ins; wait {wait:.0f} seconds, then try again.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
