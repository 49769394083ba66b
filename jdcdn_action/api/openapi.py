"""JD Cloud's CDN OpenAPI (``cdn.jdcloud-api.com``): access keys, STS tokens, and a
JDCLOUD3-HMAC-SHA256 signature per request, as JD's Python SDK signs it.

Calls: ``POST /v1/task`` (``taskType`` url, dir or prefetch), ``POST
/v1/task:queryByIds`` (at most 10 IDs) and ``GET /v1/user:quota`` (the day's quota, its
empty body signed). Every answer is an envelope ``{requestId, result, error: {code, status,
message}}``. Transient: connection errors, timeouts, HTTP 429 and 5xx, a 2xx body that is
not the expected JSON. Permanent: other 4xx and every redirect; 401 and 403 (credentials,
permission) also stop every later call, except a 403 on the quota read, which says only
that the key's policy lacks that one action. Each request is signed afresh (new date and
nonce), so a retry is never a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jdcdn_action.api import Quota, SubmitKind, Submitted, TaskKind, TaskStatus
from jdcdn_action.api.http import Permanent
from jdcdn_action.api.openapi_signing import sign
from jdcdn_action.api.retrying import CallResult
from jdcdn_action.api.transport import Answer, Caller, Reader, Signed, brief, task_id_from
from jdcdn_action.console import clean_text

if TYPE_CHECKING:
    import requests

TASK_PATH = "/v1/task"
QUERY_PATH = "/v1/task:queryByIds"
QUOTA_PATH = "/v1/user:quota"
TASK_TYPES = {"file": "url", "dir": "dir", "prefetch": "prefetch"}
TASK_STATES = {"running": "running", "success": "succeeded", "failed": "failed"}
HINTS = {
    401: "JD Cloud did not accept the credentials: check access-key-id, access-key-secret "
         "(and security-token for temporary STS credentials, which expire), and the "
         "runner's clock",
    403: "the access key has no permission to refresh this CDN: grant its user the CDN "
         "refresh policy (docs/apis.md: a least-privilege sub-user) or use another key",
    404: "JD Cloud does not know this operation: check api-endpoint",
}
QUOTA_HINTS = {
    403: "the access key may not read the quota: allow cdn:queryCdnUserQuota in its policy "
         "(docs/apis.md: a least-privilege sub-user)",
}


class OpenApi(Caller):
    """A signed, retrying caller of the CDN OpenAPI; safe to share between threads.
    ``options``: see ``Caller``."""

    name = "openapi"
    query_ids_per_call = 10

    def __init__(self, endpoint: str, access_key_id: str, access_key_secret: str,
                 security_token: str = "", **options: Any) -> None:
        super().__init__(endpoint, **options)
        self._access_key_id = access_key_id
        self._secret = access_key_secret
        self._token = security_token

    # -- the Backend interface -----------------------------------------------------------
    def submit(self, kind: SubmitKind, urls: Sequence[str]) -> CallResult:
        body = {"taskType": TASK_TYPES[kind], "urls": list(urls)}
        return self.call(TASK_PATH, body, _submitted)

    def query(self, kind: TaskKind, task_ids: Sequence[str],
              time_left: Callable[[], float] | None = None) -> CallResult:
        body = {"taskIds": list(task_ids)}
        result = self.call(QUERY_PATH, body, _task_states, time_left)
        if result.ok:  # only the tasks asked about: another task's state is no answer
            result = replace(result, value={t: s for t, s in result.value.items()
                                            if t in set(task_ids)})
        return result

    def quota(self) -> CallResult:
        return self.call(QUOTA_PATH, None, _quota)

    # -- the attempt's steps (see ``Caller``) ---------------------------------------------
    def _sign(self, path: str, body: dict[str, Any] | None,
              _second_chance: bool) -> Signed:
        """``body`` POSTed as JSON; without a body, a GET (its empty body signed). Each
        request is signed afresh: a new date and nonce."""
        url = self.endpoint + path
        method = "GET" if body is None else "POST"
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        signed = sign(method, url, data, self._access_key_id, self._secret,
                      self._token or None)
        signature = signed.headers["Authorization"].rsplit("Signature=", 1)[-1]
        shown = f"{method} {url}" + (f" {brief(body)}" if body else "")
        # The canonical request too: to compare with what JD's SDK would sign.
        return Signed(method, url, data, signed.headers, signatures=(signature,),
                      debug=(shown, signed.for_debug()))

    def _classify(self, answer: Answer, signed: Signed, read: Reader) -> Any:
        """JD's envelope: an ``error`` (or HTTP 4xx) refuses the call; ``read`` takes the
        value from its ``result``."""
        envelope = answer.data
        if answer.code >= 400 or (isinstance(envelope, dict) and envelope.get("error")):
            raise _refused(answer.code, envelope, answer.request_id, answer.path)
        result = envelope.get("result") if isinstance(envelope, dict) else None
        value = read(result) if isinstance(result, dict) else None
        if value is None:
            raise answer.unexpected("not JSON" if envelope is None
                                    else "JSON without the expected result")
        return value

    def _request_id(self, envelope: object, response: requests.Response) -> str:
        found = envelope.get("requestId") if isinstance(envelope, dict) else None
        if not isinstance(found, str) or not found:
            found = response.headers.get("x-jdcloud-request-id", "")
        return clean_text(found, 128)  # cut with "...": a secret echoed in it is then hidden


def _submitted(result: dict[str, Any]) -> Submitted | None:
    task_id = task_id_from(result, "taskId")
    if task_id is None:
        return None
    errors = result.get("errorCount")
    warning = ""
    if isinstance(errors, int) and not isinstance(errors, bool) and errors > 0:
        warning = (f"JD accepted the call but not {errors} of its URLs (errorCount "
                   f"{errors}); with wait: true the task's URL states say which")
    return Submitted(task_id, warning)


def _task_states(result: dict[str, Any]) -> dict[str, TaskStatus] | None:
    """``{taskId: TaskStatus}`` from a queryByIds result.

    A task is finished only when its ``taskStatus`` is ``success`` or ``failed``: while it
    runs, a ``urlTasks`` list (partial, or all ``success`` so far) says nothing about the
    URLs it omits. Once finished, its ``urlTasks`` are the truth for its URLs, by their own
    ``status``; an empty list leaves ``taskStatus`` standing for all of them.
    """
    tasks = result.get("tasks")
    if not isinstance(tasks, list):
        return None
    states: dict[str, TaskStatus] = {}
    for task in tasks:
        if not isinstance(task, dict):
            return None
        task_id = task_id_from(task, "taskId")
        state = TASK_STATES.get(str(task.get("taskStatus", "")).lower())
        url_tasks = task.get("urlTasks") or []
        if task_id is None or state is None or not isinstance(url_tasks, list):
            return None  # an odd answer is asked again rather than believed
        if state == "running" or not url_tasks:
            states[task_id] = TaskStatus(state)  # type: ignore[arg-type]
            continue
        listed = [(str(u.get("url")), str(u.get("status", "")).lower())
                  for u in url_tasks if isinstance(u, dict)]
        failed = tuple(url for url, status in listed if status == "failed")
        succeeded = tuple(url for url, status in listed if status == "success")
        states[task_id] = TaskStatus("failed" if failed else "succeeded", "", failed,
                                     succeeded)
    return states


def _quota(result: dict[str, Any]) -> Quota | None:
    """The counts of a queryCdnUserQuota result; None (an odd answer) without the two
    remaining counts as whole numbers."""
    counts: dict[str, int | None] = {}
    for kind in ("refresh", "dir", "prefetch"):
        for part in ("All", "Used", "Remained"):
            value = result.get(f"{kind}{part}Count")
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            counts[f"{kind}_{part.lower()}"] = value if ok else None
    if counts["refresh_remained"] is None or counts["dir_remained"] is None:
        return None
    return Quota(**counts)  # type: ignore[arg-type]


def _refused(code: int, envelope: object, request_id: str, path: str = "") -> Permanent:
    error = envelope.get("error") if isinstance(envelope, dict) else None
    error = error if isinstance(error, dict) else {}
    name = clean_text(str(error.get("status") or ""), 60)
    message = clean_text(str(error.get("message") or ""))
    said = " ".join(part for part in (name, message) if part)
    quota = path == QUOTA_PATH
    hint = (QUOTA_HINTS if quota else HINTS).get(code) or HINTS.get(
        code, "JD Cloud refused the call")
    detail = f"HTTP {code}" + (f" {said}" if said else "")
    where = f" (requestId {clean_text(request_id, 80)})" if request_id else ""
    # A 403 on the quota read says only that the policy lacks that action: refreshes may
    # still be allowed. 401 (the credentials themselves) stops everything.
    stop_all = code == 401 or (code == 403 and not quota)
    return Permanent(f"{detail}: {hint}{where}", cause=f"HTTP {code}: {hint}",
                     request_id=request_id, stop_all=stop_all)
