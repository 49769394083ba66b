"""The legacy API (``opencdn.jcloud.com/api/*``): signed POSTs, retried when the failure
is transient.

Every body carries ``username`` and ``signature = md5(yyyymmdd + username + SecretKey)``,
valid for a whole day. Transient (see ``transport``): connection errors, timeouts, HTTP 429
and 5xx, a 2xx body that is not the expected JSON, JD status -1 and 8. Permanent: other JD
statuses, HTTP 4xx and every redirect. Status 7 (signature) is tried once more signed with
the UTC date where that differs; if it still fails, no later call is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

from jdcdn_action.api import SubmitKind, Submitted, TaskKind, TaskStatus
from jdcdn_action.api.http import Permanent, Transient
from jdcdn_action.api.legacy_signing import sign, signing_day
from jdcdn_action.api.retrying import CallResult
from jdcdn_action.api.transport import Answer, Caller, Reader, Signed, brief, task_id_from
from jdcdn_action.console import clean_text

JSON_HEADERS = {"Content-Type": "application/json"}

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


QUERY_PATHS = {"refresh": "/api/refreshQuery", "prefetch": "/api/prefetchQuery"}
SUBMIT_PATHS = {"file": "/api/refresh", "dir": "/api/refresh", "prefetch": "/api/prefetch"}
QUERY_STATES: dict[int, Literal["succeeded", "running", "failed"]] = {
    0: "succeeded", 1: "running", 2: "failed"}


class LegacyApi(Caller):
    """A signed, retrying caller of the legacy API; safe to share between threads. It
    knows tasks only as a whole, one per status query. ``options``: see ``Caller``."""

    name = "legacy"
    query_ids_per_call = 1

    def __init__(self, endpoint: str, username: str, secret_key: str, timezone: dt.tzinfo,
                 **options: Any) -> None:
        super().__init__(endpoint, **options)
        self.username = username
        self._secret_key = secret_key
        self.timezone = timezone
        self._lock = threading.Lock()
        self._use_utc = False

    # -- the Backend interface -----------------------------------------------------------
    def submit(self, kind: SubmitKind, urls: Sequence[str]) -> CallResult:
        payload: dict[str, Any] = ({"publish_urls": list(urls)} if kind == "prefetch"
                                   else {"type": kind, "instances": list(urls)})
        result = self.call(SUBMIT_PATHS[kind], payload, task_id_from)
        return replace(result, value=Submitted(result.value)) if result.ok else result

    def query(self, kind: TaskKind, task_ids: Sequence[str],
              time_left: Callable[[], float] | None = None) -> CallResult:
        [task_id] = task_ids  # query_ids_per_call is 1
        result = self.call(QUERY_PATHS[kind], {"taskid": task_id}, query_extractor(task_id),
                           time_left=time_left)
        if not result.ok:
            return result
        status, message = result.value
        return replace(result, value={task_id: TaskStatus(QUERY_STATES[status], message)})

    def quota(self) -> None:
        """The legacy API has no call that reports the day's quota."""
        return None

    # -- the attempt's two steps (see ``Caller``) -----------------------------------------
    def _sign(self, path: str, payload: dict[str, Any] | None,
              second_chance: bool) -> Signed:
        """``payload`` plus username and signature, signed with the UTC date as a second
        chance or once that worked, else with the signature-timezone date."""
        utc = self._use_utc or second_chance
        now = dt.datetime.now(dt.UTC)
        day = now.date() if utc else signing_day(self.timezone, now)
        signature = sign(self.username, self._secret_key, day)
        body = {"username": self.username, "signature": signature, **(payload or {})}
        shown = {key: ("***" if key == "signature" else value) for key, value in body.items()}
        return Signed("POST", self.endpoint + path, json.dumps(body).encode(), JSON_HEADERS,
                      signatures=(signature,),
                      debug=(f"POST {self.endpoint}{path} {brief(shown)}",), other_way=utc)

    def _classify(self, answer: Answer, signed: Signed, extract: Reader) -> Any:
        """JD's ``status`` says how the call went; ``extract`` reads a status-0 answer."""
        data, code, path = answer.data, answer.code, answer.path
        status = _jd_status(data)
        if code >= 400 and status in (None, 0):
            raise Permanent(f"HTTP {code} from {path}",
                            cause=f"HTTP {code}: JD refused the call; check api-endpoint")
        if status is None:
            raise answer.unexpected("not JSON" if data is None else "JSON without a status")
        assert isinstance(data, dict)
        if status != 0:
            self._refused(status, clean_text(str(data.get("msg", ""))), signed.other_way)
        value = extract(data)
        if value is None:
            raise Transient(f"unexpected answer from {path} (status 0 without the expected "
                            "data)", cause="answers without the expected data (status 0, "
                            "no task ID)")
        if signed.other_way and not self._use_utc:
            with self._lock:
                self._use_utc = True  # the UTC date worked: keep using it this run
            self._on_retry("the UTC date's signature was accepted: consider setting "
                           "signature-timezone: UTC")
        return value

    def _days_differ(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        return signing_day(self.timezone, now) != now.date()

    def _refused(self, status: int, message: str, use_utc: bool) -> None:
        detail = f"JD status {status}" + (f" ({message})" if message else "")
        if status in TRANSIENT_STATUSES:
            raise Transient(detail, cause=f"JD status {status} (a failure on JD's side; "
                            "retried)")
        hint = STATUS_HINTS.get(status, "JD refused the call")
        signature = status == 7
        # JD's date zone is undocumented: the UTC date is the other candidate.
        other_date = signature and not use_utc and self._days_differ()
        raise Permanent(f"{detail}: {hint}", cause=f"JD status {status}: {hint}",
                        stop_all=signature,
                        second_chance="JD rejected the signature signed with the "
                        "signature-timezone date; trying once with the UTC date"
                        if other_date else "")


def query_extractor(task_id: str) -> Callable[[dict[str, Any]], tuple[int, str] | None]:
    """Read ``data.status`` (0, 1 or 2) and ``data.msg`` of a query answer.

    Anything else (no ``data``, another status, another task's ID) is an odd answer, which
    is treated as transient: it is asked again rather than believed.
    """

    def extract(body: dict[str, Any]) -> tuple[int, str] | None:
        data = body.get("data")
        if not isinstance(data, dict):
            return None
        status = data.get("status")
        if isinstance(status, str) and status.strip().isdigit():
            status = int(status)
        if isinstance(status, bool) or status not in QUERY_STATES:
            return None
        answered = data.get("taskid")
        if answered not in (None, "") and str(answered) != task_id:
            return None
        return status, clean_text(str(data.get("msg") or ""))

    return extract


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
