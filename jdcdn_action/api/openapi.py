"""JD Cloud's CDN OpenAPI (``cdn.jdcloud-api.com``): access keys, STS tokens, and a
JDCLOUD2-HMAC-SHA256 signature per request.

Calls: ``POST /v1/task`` (``taskType`` url, dir or prefetch) and ``POST
/v1/task:queryByIds`` (at most 10 IDs). Every answer is an envelope ``{requestId, result,
error: {code, status, message}}``. Transient: connection errors, timeouts, HTTP 429 and 5xx,
a 2xx body that is not the expected JSON. Permanent: other 4xx and every redirect; 401 and
403 (credentials, permission) also stop every later call. Each request is signed afresh
(new date and nonce), so a retry is never a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import requests

from jdcdn_action.api import SubmitKind, Submitted, TaskKind, TaskStatus
from jdcdn_action.api.openapi_signing import signed_headers
from jdcdn_action.api.transport import (
    Caller,
    CallResult,
    Permanent,
    Transient,
    brief,
    post_within,
    server_trouble,
    task_id_from,
)
from jdcdn_action.console import clean_text

DEFAULT_ENDPOINT = "https://cdn.jdcloud-api.com"
TASK_PATH = "/v1/task"
QUERY_PATH = "/v1/task:queryByIds"
TASK_TYPES = {"file": "url", "dir": "dir", "prefetch": "prefetch"}
TASK_STATES = {"running": "running", "success": "succeeded", "failed": "failed"}
HINTS = {
    401: "JD Cloud did not accept the credentials: check access-key-id, access-key-secret "
         "(and security-token for temporary STS credentials, which expire), and the "
         "runner's clock",
    403: "the access key has no permission to refresh this CDN: grant its user the CDN "
         "refresh policy (see the README) or use another key",
    404: "JD Cloud does not know this operation: check api-endpoint",
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
        return self._call(TASK_PATH, body, _submitted)

    def query(self, kind: TaskKind, task_ids: Sequence[str],
              time_left: Callable[[], float] | None = None) -> CallResult:
        body = {"taskIds": list(task_ids)}
        result = self._call(QUERY_PATH, body, _task_states, time_left)
        if result.ok:  # only the tasks asked about: another task's state is no answer
            result = replace(result, value={t: s for t, s in result.value.items()
                                            if t in set(task_ids)})
        return result

    # -- calls ---------------------------------------------------------------------------
    def _call(self, path: str, body: dict[str, Any], read: Callable[[dict[str, Any]], Any],
              time_left: Callable[[], float] | None = None) -> CallResult:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self.retrying.call(
            lambda timeout, _second_chance: self._attempt(path, data, body, read, timeout),
            time_left)

    def _attempt(self, path: str, data: bytes, body: dict[str, Any],
                 read: Callable[[dict[str, Any]], Any], timeout: float) -> Any:
        url = self.endpoint + path
        headers = signed_headers("POST", url, data, self._access_key_id, self._secret,
                                 self._token or None)
        # The signature is a credential of its own: masked before anything can print it.
        self._on_signature(headers["Authorization"].rsplit("Signature=", 1)[-1])
        self._on_debug(f"POST {url} {brief(body)}")
        response = post_within(self.session, url, data, headers, timeout)
        envelope = _json(response)
        request_id = _request_id(envelope, response)
        self._on_debug(f"-> HTTP {response.status_code} requestId {request_id or '-'}: "
                       f"{clean_text(response.text, 300)}")
        trouble = server_trouble(response)
        if trouble:
            trouble.request_id = request_id
            raise trouble
        if response.status_code >= 400 or (isinstance(envelope, dict)
                                           and envelope.get("error")):
            raise _refused(response.status_code, envelope, request_id)
        result = envelope.get("result") if isinstance(envelope, dict) else None
        value = read(result) if isinstance(result, dict) else None
        if value is None:
            kind = "not JSON" if envelope is None else "JSON without the expected result"
            raise Transient(f"unexpected answer from {path} (HTTP {response.status_code}, "
                            f"{kind})", cause=f"unexpected answers ({kind}); check "
                            "api-endpoint", request_id=request_id)
        return value


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


def _refused(code: int, envelope: object, request_id: str) -> Permanent:
    error = envelope.get("error") if isinstance(envelope, dict) else None
    error = error if isinstance(error, dict) else {}
    name = clean_text(str(error.get("status") or ""), 60)
    message = clean_text(str(error.get("message") or ""))
    said = " ".join(part for part in (name, message) if part)
    hint = HINTS.get(code, "JD Cloud refused the call")
    detail = f"HTTP {code}" + (f" {said}" if said else "")
    where = f" (requestId {clean_text(request_id, 80)})" if request_id else ""
    return Permanent(f"{detail}: {hint}{where}", cause=f"HTTP {code}: {hint}",
                     request_id=request_id, stop_all=code in (401, 403))


def _json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _request_id(envelope: object, response: requests.Response) -> str:
    found = envelope.get("requestId") if isinstance(envelope, dict) else None
    if not isinstance(found, str) or not found:
        found = response.headers.get("x-jdcloud-request-id", "")
    return found[:128]
