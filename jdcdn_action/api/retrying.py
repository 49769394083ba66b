"""The retry loop both APIs share, and the ``CallResult`` it ends with.

An attempt that raises ``Transient`` is tried again after an exponential backoff with
jitter, or after the server's ``Retry-After``; one that raises ``Permanent`` ends the call,
and one that says the credentials are wrong stops every later call too, since each would
fail the same way. The loop knows attempts and their failures only; how one attempt is
made and read is ``transport``'s.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jdcdn_action.api.http import Permanent, Transient
from jdcdn_action.console import clean_text

MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed
MAX_BACKOFF = 30.0
MIN_TIMEOUT = 0.5  # seconds: the least a request is given, even at the end of a wait


@dataclass(frozen=True)
class CallResult:
    """How one logical call ended, after all its attempts.

    ``cause`` is the failure without the details of one attempt ("JD status 7: JD rejected
    the signature..."), so that the run can say which cause was commonest. ``request_id``
    is the API's ID of the failed request, where it gives one (JD's support asks for it).
    """

    ok: bool
    attempts: int
    value: Any = None  # what the backend read from the answer (a task ID, states...)
    error: str = ""
    auth_failed: bool = False
    cause: str = ""
    request_id: str = ""


class Retrying:
    """The retry loop shared by both APIs; safe to share between threads.

    ``stopped`` is set once credentials are refused for good: every call after that ends
    at once, with the cause that stopped the run.
    """

    def __init__(self, *, timeout: float, max_attempts: int, backoff: float,
                 sleep: Callable[[float], None], on_retry: Callable[[str], None],
                 on_debug: Callable[[str], None] = lambda _message: None) -> None:
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.on_retry = on_retry
        self.on_debug = on_debug
        self.stopped = threading.Event()
        self.stop_cause = ""

    def call(self, attempt: Callable[[float, bool], Any],
             time_left: Callable[[], float] | None = None) -> CallResult:
        """Run ``attempt(timeout, second_chance)`` until it returns, or fails for good.

        ``time_left`` (seconds) caps each request's timeout, so that a poll cannot outlast
        the wait it belongs to.
        """
        attempts = 0
        bonus = False  # the one extra attempt a second chance gives
        last: Transient | Permanent | None = None
        while attempts < self.max_attempts + bonus:
            if self.stopped.is_set():
                return CallResult(False, attempts, auth_failed=True, error=(
                    str(last) if last else "not sent: an earlier call's credentials were "
                    "refused"), cause=last.cause if last else self.stop_cause)
            attempts += 1
            timeout = self.timeout if time_left is None else max(
                MIN_TIMEOUT, min(self.timeout, time_left()))
            try:
                value = attempt(timeout, bonus)
            except Transient as failure:
                last = failure
                self._tell(failure)
                if attempts >= self.max_attempts + bonus:
                    break
                delay = self._delay(attempts, failure.retry_after)
                self.on_retry(f"{failure}; retrying in {delay:.1f}s "
                              f"(attempt {attempts + 1} of {self.max_attempts})")
                self.sleep(delay)
                continue
            except Permanent as failure:
                last = failure
                self._tell(failure)
                if failure.second_chance and not bonus:
                    bonus = True  # a change of approach, not a retry: one more attempt
                    self.on_retry(failure.second_chance)
                    continue
                if failure.stop_all:
                    self.stop_cause = failure.cause
                    self.stopped.set()
                return CallResult(False, attempts, error=str(failure), cause=failure.cause,
                                  auth_failed=failure.stop_all,
                                  request_id=failure.request_id)
            return CallResult(True, attempts, value=value)
        assert last is not None
        return CallResult(False, attempts, error=str(last), cause=last.cause,
                          request_id=last.request_id)

    def _tell(self, failure: Exception) -> None:
        """For the debug log, the whole story of a request that got no answer: every
        exception on its chain (requests', urllib3's, the socket's or TLS's own)."""
        if failure.__cause__ is None:
            return
        from jdcdn_action.api.causes import walk

        story = [f"{type(e).__module__}.{type(e).__qualname__}: {clean_text(str(e), 300)}"
                 for e in walk(failure.__cause__)]
        self.on_debug(f"{failure}; its story:\n  " + "\n  ".join(story))

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, MAX_RETRY_AFTER)
        ceiling = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
        return ceiling * random.uniform(0.5, 1.0)  # jitter spreads concurrent retries


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
