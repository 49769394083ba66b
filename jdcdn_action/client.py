"""Calls: signed POSTs to the legacy API, retried when the failure is transient.

Transient (retried with exponential backoff and jitter, ``Retry-After`` honoured):
connection errors, timeouts, HTTP 429 and 5xx, a 2xx body that is not the expected JSON,
JD status -1 and 8. Permanent: other JD statuses, HTTP 4xx and every redirect (the signed
body goes to api-endpoint and nowhere else). Status 7 (signature) is retried once signed
with the UTC date where that differs; if it still fails, the client stops every later
call, since each would fail the same way.

``timeout`` bounds a whole request, connect to last byte: requests' own timeout bounds each
socket read, which a server trickling one byte at a time could stretch without end.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from jdcdn_action import __version__
from jdcdn_action.console import clean_text
from jdcdn_action.signing import sign, signing_day

MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed
MAX_BACKOFF = 30.0
MIN_TIMEOUT = 0.5  # seconds: the least a request is given, even at the end of a wait
TRANSIENT_STATUSES = {-1, 8}
STATUS_HINTS = {
    1: "JD reported a failure; try again later or open a ticket with JD",
    2: "JD says parameters are missing (please report this as a bug)",
    3: "JD says the username is missing: set username",
    4: "JD says the signature is missing (please report this as a bug)",
    5: "JD says the type is missing (please report this as a bug)",
    6: "JD says the URL list is missing (please report this as a bug)",
    7: "JD rejected the signature: check username, secret-key and signature-timezone",
    9: "JD says a call had more than 100 URLs (please report this as a bug)",
    10: "JD says a prefetch call had more than 50 URLs (please report this as a bug)",
    11: "JD says the task ID is missing (please report this as a bug)",
    15: "the domain is not on this JD account: check base-url and the account",
    16: "JD says the type is malformed (please report this as a bug)",
    17: "JD says the domain is illegal: check base-url",
    18: "the domain is not on this JD account: check base-url and the account",
    20: "JD says the user name does not exist: check username",
    46: "JD says a call had more than 5 directories (please report this as a bug)",
    47: "JD says the call holds duplicate addresses (please report this as a bug)",
}


@dataclass(frozen=True)
class CallResult:
    """How one logical call ended, after all its attempts.

    ``cause`` is the failure without the details of one attempt ("JD status 7: JD rejected
    the signature..."), so that the run can say which cause was commonest.
    """

    ok: bool
    attempts: int
    value: Any = None  # what the extractor returned on success (a task ID, a status...)
    error: str = ""
    auth_failed: bool = False
    cause: str = ""


class Transient(Exception):
    """This attempt failed in a way that may pass; ``retry_after`` is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None,
                 cause: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.cause = cause or message


class Permanent(Exception):
    def __init__(self, message: str, status: int | None = None, cause: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.cause = cause or message


Extractor = Callable[[dict[str, Any]], Any]


MAX_TASK_ID = 256


def task_id_from(body: dict[str, Any], key: str = "taskid") -> str | None:
    """The task ID of a refresh or prefetch answer, or None if it is missing.

    The API documents no format, so any non-empty string of at most 256 characters is
    taken as JD wrote it (printing makes it harmless: console, outputs, summary). Refusing
    an odd but real ID would resend an accepted call and burn the day's quota.
    """
    task_id = body.get(key)
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not task_id.strip() or len(task_id) > MAX_TASK_ID:
        return None
    return task_id


class JdApi:
    """A signed, retrying caller of the legacy API; safe to share between threads."""

    def __init__(
        self,
        endpoint: str,
        username: str,
        secret_key: str,
        timezone: dt.tzinfo,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        pool_size: int = 4,
        on_signature: Callable[[str], None] = lambda _signature: None,
        on_retry: Callable[[str], None] = lambda _message: None,
        on_debug: Callable[[str], None] = lambda _message: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.username = username
        self._secret_key = secret_key
        self.timezone = timezone
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._on_signature = on_signature
        self._on_retry = on_retry
        self._on_debug = on_debug
        self._sleep = sleep
        self._lock = threading.Lock()
        self._use_utc = False
        self.stopped = threading.Event()  # set after a final signature failure
        self.stop_cause = ""
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = f"jdcdn-action/{__version__}"

    def close(self) -> None:
        self.session.close()

    def _signature(self, utc: bool) -> str:
        now = dt.datetime.now(dt.UTC)
        day = now.date() if utc else signing_day(self.timezone, now)
        signature = sign(self.username, self._secret_key, day)
        self._on_signature(signature)  # masked before it can be sent or printed
        return signature

    def _days_differ(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        return signing_day(self.timezone, now) != now.date()

    def call(self, path: str, payload: dict[str, Any], extract: Extractor,
             time_left: Callable[[], float] | None = None) -> CallResult:
        """POST ``payload`` (plus username and signature) to ``path``, with retries.

        ``time_left`` (seconds) caps each request's timeout, so that a poll cannot outlast
        the wait it belongs to.
        """
        attempts = 0
        tried_utc = False
        last_error = last_cause = ""
        while attempts < self.max_attempts + tried_utc:
            if self.stopped.is_set():
                return CallResult(False, attempts, auth_failed=True, error=(
                    last_error or "not sent: JD rejected the signature on an earlier call"),
                    cause=last_cause or self.stop_cause)
            attempts += 1
            use_utc = self._use_utc or tried_utc
            body = {"username": self.username, "signature": self._signature(use_utc), **payload}
            timeout = self.timeout if time_left is None else max(
                MIN_TIMEOUT, min(self.timeout, time_left()))
            try:
                value = self._attempt(path, body, extract, timeout)
            except Transient as failure:
                last_error, last_cause = str(failure), failure.cause
                if attempts >= self.max_attempts + tried_utc:
                    break
                delay = self._delay(attempts, failure.retry_after)
                self._on_retry(f"{last_error}; retrying in {delay:.1f}s "
                               f"(attempt {attempts + 1} of {self.max_attempts})")
                self._sleep(delay)
                continue
            except Permanent as failure:
                last_error, last_cause = str(failure), failure.cause
                if failure.status != 7:
                    return CallResult(False, attempts, error=last_error, cause=last_cause)
                if not use_utc and self._days_differ():
                    # JD's date zone is undocumented: the UTC date is the other candidate.
                    tried_utc = True  # one extra attempt: a switch of date, not a retry
                    self._on_retry("JD rejected the signature signed with the "
                                   "signature-timezone date; trying once with the UTC date")
                    continue
                self.stopped.set()
                self.stop_cause = last_cause
                return CallResult(False, attempts, error=last_error, auth_failed=True,
                                  cause=last_cause)
            if use_utc and not self._use_utc:
                with self._lock:
                    self._use_utc = True  # the UTC date worked: keep using it this run
                self._on_retry("the UTC date's signature was accepted: consider setting "
                               "signature-timezone: UTC")
            return CallResult(True, attempts, value=value)
        return CallResult(False, attempts, error=last_error, cause=last_cause)

    def _attempt(self, path: str, body: dict[str, Any], extract: Extractor,
                 timeout: float) -> Any:
        shown = {key: ("***" if key == "signature" else value) for key, value in body.items()}
        self._on_debug(f"POST {self.endpoint}{path} {_brief(shown)}")
        response = post_within(self.session, self.endpoint + path, body, timeout)
        code = response.status_code
        self._on_debug(f"-> HTTP {code}: {clean_text(response.text, 300)}")
        if 300 <= code < 400:
            raise Permanent(redirect_message(code, response.headers.get("Location", "")))
        if code == 429 or code >= 500:
            raise Transient(f"HTTP {code}", _retry_after(response.headers.get("Retry-After")),
                            cause=f"HTTP {code} (JD's server is busy or failing; retried)")
        try:
            data = response.json()
        except ValueError:
            data = None
        status = _jd_status(data)
        if code >= 400 and status in (None, 0):
            raise Permanent(f"HTTP {code} from {path}",
                            cause=f"HTTP {code}: JD refused the call; check api-endpoint")
        if status is None:
            kind = "not JSON" if data is None else "JSON without a status"
            raise Transient(f"unexpected answer from {path} (HTTP {code}, {kind})",
                            cause=f"unexpected answers ({kind}); check api-endpoint")
        assert isinstance(data, dict)
        if status != 0:
            message = clean_text(str(data.get("msg", "")))
            detail = f"JD status {status}" + (f" ({message})" if message else "")
            if status in TRANSIENT_STATUSES:
                raise Transient(detail, cause=f"JD status {status} (a failure on JD's side; "
                                "retried)")
            hint = STATUS_HINTS.get(status, "JD refused the call")
            raise Permanent(f"{detail}: {hint}", status, cause=f"JD status {status}: {hint}")
        value = extract(data)
        if value is None:
            raise Transient(f"unexpected answer from {path} (status 0 without the expected data)",
                            cause="answers without the expected data (status 0, no task ID)")
        return value

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
        return ceiling * random.uniform(0.5, 1.0)  # jitter spreads concurrent retries


def post_within(session: requests.Session, url: str, body: dict[str, Any],
                timeout: float) -> requests.Response:
    """POST ``body`` as JSON and read the whole answer within ``timeout`` seconds.

    The request runs on a daemon thread, so a server that trickles bytes cannot hold the
    run: when time is up the attempt fails, and the thread is left to end with its
    socket's own timeout. Redirects are never followed: a 307/308 would send the signed
    body to another host, and a 301/302 would turn the POST into a GET.
    """
    box: dict[str, Any] = {}
    finished = threading.Event()

    def attempt() -> None:
        try:
            response = session.post(url, json=body, timeout=timeout, allow_redirects=False,
                                    stream=True)
            response.content  # noqa: B018 -- read the body inside the deadline
            box["response"] = response
        except BaseException as error:  # handed to the caller's thread as it is
            box["error"] = error
        finally:
            finished.set()

    threading.Thread(target=attempt, name="jdcdn-request", daemon=True).start()
    if not finished.wait(timeout):
        raise Transient(f"timed out after {timeout:g}s", cause=f"timed out (timeout: "
                        f"{timeout:g}s for a whole request)")
    error = box.get("error")
    if isinstance(error, requests.Timeout):
        raise Transient(f"timed out after {timeout:g}s",
                        cause=f"timed out (timeout: {timeout:g}s for a whole request)")
    if isinstance(error, requests.ConnectionError):
        reason = _reason(error)
        raise Transient(f"connection failed ({reason})", cause=f"connection failed "
                        f"({reason}): check api-endpoint and the network")
    if isinstance(error, requests.RequestException):
        raise Transient(f"request failed ({type(error).__name__})")
    if error is not None:
        raise error
    return box["response"]


def redirect_message(code: int, location: str) -> str:
    """Why a redirect failed the call, naming the host it pointed to."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(location).hostname or ""
    except ValueError:
        host = ""
    where = f"to {clean_text(host, 100)}" if host else (
        "to another path" if location else "without a Location")
    return (f"HTTP {code}: the API redirected {where}; redirects are never followed, so the "
            "signed call goes to api-endpoint only: check api-endpoint")


def _jd_status(data: object) -> int | None:
    if not isinstance(data, dict):
        return None
    status = data.get("status")
    if isinstance(status, bool):
        return None
    if isinstance(status, int):
        return status
    if isinstance(status, str):
        try:
            return int(status.strip())
        except ValueError:
            return None
    return None


def _retry_after(value: str | None) -> float | None:
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


def _brief(body: dict[str, Any]) -> str:
    """A request body for the debug log: lists shortened to their size and first item."""
    parts = []
    for key, value in body.items():
        if isinstance(value, list):
            first = f" {value[0]} ..." if value else ""
            value = f"[{len(value)} items{first}]"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _reason(error: Exception) -> str:
    text = str(error)
    for marker in ("Connection refused", "Connection reset", "Name or service not known",
                   "RemoteDisconnected", "Connection aborted", "Max retries exceeded"):
        if marker in text:
            return marker.lower() if marker[0].isupper() and " " in marker else marker
    return type(error).__name__
