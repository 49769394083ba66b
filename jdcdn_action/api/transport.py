"""One attempt of a call, as both APIs make it, and the ``Caller`` base that holds it.

Every attempt goes the same way: the backend signs the request (``_sign``), each signature
is masked before anything can print it, the request is sent within the timeout (``http``),
HTTP 429 and 5xx are server trouble (retried after ``Retry-After``), the answer's JSON is
read, and the backend says what it means (``_classify``): the call's value, or a
``Transient`` or ``Permanent`` failure in its API's words. An answer that is not the
API's (not JSON, or without what the call asks for) is transient: it is asked again rather
than believed. ``retrying`` runs the attempts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdcdn_action.api.http import Transient, new_session, request_within
from jdcdn_action.api.retrying import CallResult, Retrying, retry_after
from jdcdn_action.console import clean_text
from jdcdn_action.network import Network

if TYPE_CHECKING:
    import requests

Reader = Callable[[dict[str, Any]], Any]  # an answer's data -> the call's value, or None


@dataclass(frozen=True)
class Signed:
    """A request as a backend signed it: what ``Caller`` sends, masks and logs."""

    method: str
    url: str
    data: bytes
    headers: Mapping[str, str]
    signatures: tuple[str, ...]  # credentials of their own: masked before any printing
    debug: tuple[str, ...]  # what the debug log shows of it, without a secret
    # Signed the backend's other way (the legacy API: with the UTC date), as a second
    # chance or since one worked.
    other_way: bool = False


@dataclass(frozen=True)
class Answer:
    """A server's answer that is no server trouble: ``data`` is its JSON, None when it is
    not JSON; ``request_id`` the API's ID of the request, where it names one."""

    path: str
    code: int
    data: object
    request_id: str = ""

    def unexpected(self, kind: str) -> Transient:
        """This answer is not the API's (a proxy's page, another service): asked again."""
        return Transient(f"unexpected answer from {self.path} (HTTP {self.code}, {kind})",
                         cause=f"unexpected answers ({kind}); check api-endpoint",
                         request_id=self.request_id)


def server_trouble(response: requests.Response, request_id: str = "") -> Transient | None:
    """HTTP 429 and 5xx: retried, after ``Retry-After`` where given."""
    code = response.status_code
    if code == 429 or code >= 500:
        return Transient(f"HTTP {code}", retry_after(response.headers.get("Retry-After")),
                         cause=f"HTTP {code} (the API's server is busy or failing; retried)",
                         request_id=request_id or response.headers.get(
                             "x-jdcloud-request-id", ""))
    return None


class Caller:
    """What both backends share: the endpoint, a pooled session that goes the run's way
    out (``network``: proxies, CAs), the attempt and its retries, and the hooks that mask
    each signature, log retries and write debug lines. A backend supplies ``_sign`` and
    ``_classify`` (and ``_request_id`` where its API names requests)."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        pool_size: int = 4,
        network: Network | None = None,
        on_signature: Callable[[str], None] = lambda _signature: None,
        on_retry: Callable[[str], None] = lambda _message: None,
        on_debug: Callable[[str], None] = lambda _message: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._on_signature = on_signature
        self._on_retry = on_retry
        self._on_debug = on_debug
        self.retrying = Retrying(timeout=timeout, max_attempts=max_attempts, backoff=backoff,
                                 sleep=sleep, on_retry=on_retry, on_debug=on_debug)
        self.session = new_session(network or Network(), pool_size)

    @property
    def stopped(self) -> threading.Event:
        """Set once the credentials were refused for good: nothing more is sent."""
        return self.retrying.stopped

    def close(self) -> None:
        self.session.close()

    def call(self, path: str, body: dict[str, Any] | None, read: Reader,
             time_left: Callable[[], float] | None = None) -> CallResult:
        """Send ``body`` to ``path``, with retries; ``read`` takes the value from the data
        of an answer that succeeded (None: an odd answer, asked again)."""
        return self.retrying.call(
            lambda timeout, second_chance: self._attempt(path, body, read, timeout,
                                                         second_chance),
            time_left)

    def _attempt(self, path: str, body: dict[str, Any] | None, read: Reader,
                 timeout: float, second_chance: bool) -> Any:
        """One request of the call: its value, or ``Transient``/``Permanent`` raised."""
        signed = self._sign(path, body, second_chance)
        for signature in signed.signatures:
            self._on_signature(signature)  # before the first line that could show it
        for line in signed.debug:
            self._on_debug(line)
        response = request_within(self.session, signed.method, signed.url, data=signed.data,
                                  headers=signed.headers, timeout=timeout)
        data = _json(response)
        named = self._request_id(data, response)
        said = "" if named is None else f" requestId {named or '-'}"
        self._on_debug(f"-> HTTP {response.status_code}{said}: "
                       f"{clean_text(response.text, 300)}")
        request_id = named or ""
        trouble = server_trouble(response, request_id)
        if trouble:
            raise trouble
        return self._classify(Answer(path, response.status_code, data, request_id), signed,
                              read)

    # -- what each backend supplies ------------------------------------------------------
    def _sign(self, path: str, body: dict[str, Any] | None, second_chance: bool) -> Signed:
        """The request to send; ``second_chance``: a ``Permanent`` asked for another way."""
        raise NotImplementedError

    def _classify(self, answer: Answer, signed: Signed, read: Reader) -> Any:
        """The call's value from ``answer``, or a ``Transient``/``Permanent`` raised."""
        raise NotImplementedError

    def _request_id(self, data: object, response: requests.Response) -> str | None:
        """The API's ID of the request ("" if the answer lacks it); None: this API names
        no request."""
        return None


def _json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def brief(body: Mapping[str, Any]) -> str:
    """A request body for the debug log: lists shortened to their size and first item."""
    parts = []
    for key, value in body.items():
        if isinstance(value, list):
            first = f" {value[0]} ..." if value else ""
            value = f"[{len(value)} items{first}]"
        parts.append(f"{key}={value}")
    return " ".join(parts)


MAX_TASK_ID = 256


def task_id_from(body: Mapping[str, Any], key: str = "taskid") -> str | None:
    """The task ID of a refresh or prefetch answer, or None if it is missing.

    The APIs document no format, so any non-empty string of at most 256 characters is
    taken as JD wrote it (printing makes it harmless: console, outputs, summary). Refusing
    an odd but real ID would resend an accepted call and burn the day's quota.
    """
    task_id = body.get(key)
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not task_id.strip() or len(task_id) > MAX_TASK_ID:
        return None
    return task_id
