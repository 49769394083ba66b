"""A fake JD Cloud CDN OpenAPI on 127.0.0.1, checking what JD's gateway would.

Every request is authenticated the way the gateway does it, from the request as received
(method, raw path and query, the named headers' values, the raw body bytes), not from what
a client meant to send: the canonical request is rebuilt from those by JD's rules (the path
decoded and re-encoded, so ``/v1/task:queryByIds`` is signed as ``/v1/task%3AqueryByIds``:
a client that signs the raw colon is refused), for any method (a GET signs the empty body).
It checks the JDCLOUD3-HMAC-SHA256 Authorization header's shape, the credential scope
(``YYYYMMDD/jdcloud-api/cdn/jdcloud3_request``) against ``x-jdcloud-date``, the date
within ``max_skew`` of the server's clock, a nonce never seen before, the required signed
headers, the signature recomputed with the key's secret and compared in constant time, the
STS token of temporary keys, and the key's permission. Failures answer JD's error envelope
``{"requestId", "error": {"code", "status", "message"}}`` with the HTTP status ``code``.

Operations: ``POST /v1/task`` (createRefreshTask), ``POST /v1/task:queryByIds``,
``GET /v1/task/{taskId}``, ``POST /v1/task:queryLimit`` and ``GET /v1/user:quota``
(queryCdnUserQuota: the day's counts, from ``DAILY_QUOTA`` and what was used), with JD's
per-call limits. ``denied`` names operations the key's policy does not allow (403, after
the signature is checked, as an IAM policy without that action).

It is scripted like :class:`tests.fake_jd.FakeJd`: :meth:`FakeOpenApi.script` queues
:class:`Fault` objects per path (``http``, ``html``, ``sleep``, ``reset``, and ``jd``, an
error envelope: see :class:`ErrorFault`); tasks move from ``running`` to their end state
by kind (``task_script``) or by URL (``slow_instances``, ``fail_instances``), and their
``urlTasks`` can spell URLs another way, leave some out, or list only those done so far
(``url_spelling``, ``unlisted_instances``, ``list_running``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from jdcdn_action.api import openapi_signing as signing
from tests.fake_jd import Call, EchoFault, Fault, echo_text
from tests.loopback import LoopbackHandler, LoopbackServer

LIMITS = {"url": 100, "dir": 5, "prefetch": 50}
DAILY_QUOTA = {"url": 2000, "dir": 50, "prefetch": 2000}
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
                429: "TOO_MANY_REQUESTS", 500: "INTERNAL", 503: "UNAVAILABLE"}
REQUIRED_SIGNED = ("content-type", "host", signing.DATE_HEADER, signing.NONCE_HEADER)
MAX_BODY = 1 << 20
MAX_CALLS = 100_000
AUTH_RE = re.compile(
    r"JDCLOUD3-HMAC-SHA256 Credential=(?P<credential>[^,]+), "
    r"SignedHeaders=(?P<names>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})")
TASK_ID_RE = re.compile(r"/v1/task/(?P<id>[^/]+)")
# The fake's handlers by JD's operation names (the actions of an IAM policy).
OPERATIONS = {"create_task": "createRefreshTask", "query_by_ids": "queryRefreshTaskByIds",
              "query": "queryRefreshTaskById", "query_limit": "queryRefreshLimit",
              "query_cdn_user_quota": "queryCdnUserQuota"}


@dataclass
class ErrorFault(Fault):
    """A ``jd`` fault: JD's error envelope with HTTP status ``code``, ``error.status``
    ``name`` (by default the usual name for the code) and ``message``; ``headers`` (such
    as ``Retry-After``) go along. A plain ``Fault("jd", code=...)`` works too."""

    kind: str = "jd"
    name: str = ""
    message: str = "scripted"


@dataclass
class ApiCall(Call):
    """One request: ``answer`` is the JSON answer (or "reset", "html", "http 502"), ``code``
    the HTTP status, ``request_id`` the envelope's ``requestId`` (empty for faults that
    send no envelope)."""

    method: str = "POST"
    code: int = 0
    request_id: str = ""


@dataclass
class Key:
    secret: str
    token: str | None = None  # STS credentials: requests must carry this token
    allowed: bool = True  # False: a user without CDN permission


@dataclass
class RefreshTask:
    task_id: str
    task_type: str  # url, dir, prefetch
    urls: list[str]
    created: dt.datetime
    url_polls: dict[str, int]  # URL -> polls it stays running
    failed_urls: set[str]
    polls: int = 0
    spelling: Callable[[str], str] = str  # how urlTasks writes a URL
    unlisted: frozenset[str] = frozenset()  # URLs urlTasks never lists
    list_running: bool = True  # False: a running URL is left out of urlTasks

    def url_status(self, url: str) -> str:
        if self.polls <= self.url_polls.get(url, 0):
            return "running"
        return "failed" if url in self.failed_urls else "success"

    def as_json(self) -> dict[str, Any]:
        statuses = {url: self.url_status(url) for url in self.urls}
        done = [s for s in statuses.values() if s != "running"]
        failed = sum(s == "failed" for s in done)
        status = "running" if len(done) < len(statuses) else "failed" if failed else "success"
        listed = {url: s for url, s in statuses.items() if url not in self.unlisted
                  and (self.list_running or s != "running")}
        return {
            "taskId": self.task_id, "taskType": self.task_type, "taskStatus": status,
            "success": round(100 * (len(done) - failed) / len(self.urls), 2),
            "failed": round(100 * failed / len(self.urls), 2),
            "retryStatus": None,
            "createDate": self.created.strftime("%Y-%m-%d %H:%M:%S"),
            "urlTasks": [{"url": self.spelling(url), "taskType": self.task_type, "status": s}
                         for url, s in listed.items()],
        }


class ApiError(Exception):
    """An answer with JD's error envelope."""

    def __init__(self, code: int, message: str, name: str = "") -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.name = name or STATUS_NAMES.get(code, "UNKNOWN")


def new_request_id() -> str:
    """Like JD's: 32 lower-case letters and digits."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))


class FakeOpenApi(LoopbackServer):
    """Start with ``with FakeOpenApi(ak, sk) as api:``; ``api.endpoint`` is the base URL.

    Keys: ``add_key(ak, secret, token=None, allowed=True)`` adds (or replaces) a key: with a
    ``token`` it is an STS key, ``allowed=False`` makes it a user without CDN permission.
    Every signature any instance receives is kept in ``SIGNATURES_SEEN``, so the leak check
    can look for each one in a run's log and files.
    """

    SIGNATURES_SEEN: ClassVar[set[str]] = set()

    def __init__(
        self,
        access_key_id: str = "JDC_FAKEACCESSKEY0001",
        access_key_secret: str = "fake-access-key-secret-0123456789",
        security_token: str | None = None,
        domains: tuple[str, ...] = ("www.example.com", "cdn.example.com", "static.example.com"),
        reject_foreign_domains: bool = False,
        max_skew: float = 300.0,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.keys: dict[str, Key] = {}
        self.add_key(access_key_id, access_key_secret, security_token)
        self.domains = set(domains)
        # False (JD's way): a URL of another account's domain counts in errorCount and
        # ends failed in the task; True: the whole call fails with 400.
        self.reject_foreign_domains = reject_foreign_domains
        self.max_skew = max_skew
        self.latency = latency
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.task_id_factory: Callable[[], str] = lambda: uuid.uuid4().hex
        self.calls: list[ApiCall] = []
        self.tasks: dict[str, RefreshTask] = {}
        self.task_script: dict[str, tuple[int, str]] = {}  # by type: (polls, final status)
        self.fail_instances: set[str] = set()  # URLs that end failed in their tasks
        self.slow_instances: dict[str, int] = {}  # URL -> polls it stays running
        # How the task queries answer, as JD may: urlTasks spelling URLs another way
        # (``urllib.parse.unquote``: decoded), leaving some out, or listing only the URLs
        # done so far while the task runs.
        self.url_spelling: Callable[[str], str] = str
        self.unlisted_instances: set[str] = set()
        self.list_running = True
        self.used: dict[str, int] = dict.fromkeys(DAILY_QUOTA, 0)
        self.nonces: dict[str, float] = {}  # nonce -> when seen (monotonic)
        self.die_after: int | None = None  # after this many requests, act as a dead host
        self.dead = False
        self.denied: set[str] = set()  # operation names (queryCdnUserQuota) answered 403
        self.daily = dict(DAILY_QUOTA)  # the day's quota the quota read reports

    # -- scripting -----------------------------------------------------------------------
    def add_key(self, access_key_id: str, secret: str, token: str | None = None,
                allowed: bool = True) -> None:
        with self.lock:
            self.keys[access_key_id] = Key(secret, token, allowed)

    # -- what happened -------------------------------------------------------------------
    def requests(self, path: str = "/v1/task") -> list[ApiCall]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def accepted(self, path: str = "/v1/task") -> list[ApiCall]:
        """The calls answered 200 with a result."""
        return [c for c in self.requests(path)
                if c.code == 200 and isinstance(c.answer, dict) and "result" in c.answer]

    def refreshed(self, kind: str | None = None) -> set[str]:
        """Every URL of an accepted refresh call (of taskType ``kind``, url or dir, if
        given), including those counted in errorCount."""
        return {u for c in self.accepted() if c.body["taskType"] in ("url", "dir")
                and kind in (None, c.body["taskType"]) for u in c.body["urls"]}

    def prefetched(self) -> list[list[str]]:
        """The URL lists of the accepted prefetch calls, in the order they came."""
        return [c.body["urls"] for c in self.accepted() if c.body["taskType"] == "prefetch"]

    def task_ids(self) -> list[str]:
        """The task IDs handed out, in order."""
        return [c.answer["result"]["taskId"] for c in self.accepted()]

    def task_of(self, url: str, task_type: str | None = None) -> RefreshTask:
        """The (last) task (of ``task_type`` if given) whose URLs hold ``url``."""
        with self.lock:
            return [t for t in self.tasks.values()
                    if task_type in (None, t.task_type) and url in t.urls][-1]


    # -- authentication ------------------------------------------------------------------
    def authenticate(self, method: str, target: str, headers: dict[str, list[str]],
                     body: bytes) -> None:
        """Raise :class:`ApiError` unless the request is signed as the gateway requires.

        ``headers`` maps lower-case names to every value received for them.
        """
        auth = _one(headers, "authorization")
        match = AUTH_RE.fullmatch(auth or "")
        if not match:
            raise ApiError(401, "missing or malformed Authorization header")
        FakeOpenApi.SIGNATURES_SEEN.add(match["signature"])
        date, nonce = _one(headers, signing.DATE_HEADER), _one(headers, signing.NONCE_HEADER)
        if not date or not nonce:
            raise ApiError(401, "x-jdcloud-date and x-jdcloud-nonce are required")
        self._check_date(date)
        access_key_id = self._check_credential(match["credential"], date)
        names = match["names"].split(";")
        self._check_signed_names(names, headers)
        with self.lock:
            key = self.keys.get(access_key_id)
        if key is None:
            raise ApiError(401, "invalid access key")
        path, _, query = target.partition("?")
        received = {name: headers[name] for name in names}  # every value, as sent
        canonical = signing.canonical_request(method, path, query, received, names, body)
        expected = signing.signature(key.secret, date, canonical)
        if not hmac.compare_digest(expected, match["signature"]):
            raise ApiError(401, "signature does not match")
        self._check_token(key, headers)
        self._use_nonce(nonce)
        if not key.allowed:
            raise ApiError(403, f"access key {access_key_id} has no permission for cdn")

    def _check_date(self, date: str) -> None:
        try:
            sent_at = dt.datetime.strptime(date, signing.DATE_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            raise ApiError(401, f"x-jdcloud-date {date!r} is not YYYYMMDDTHHMMSSZ") from None
        if abs((self.clock() - sent_at).total_seconds()) > self.max_skew:
            raise ApiError(401, "request expired: x-jdcloud-date too far from server time")

    @staticmethod
    def _check_credential(credential: str, date: str) -> str:
        """The access key ID of a credential whose scope fits the date header."""
        access_key_id, _, scope = credential.partition("/")
        day, *rest = scope.split("/")
        if day != date[:8]:
            raise ApiError(401, "credential scope date differs from x-jdcloud-date")
        if rest != [signing.REGION, signing.SERVICE, signing.TERMINATOR]:
            raise ApiError(401, f"credential scope {scope!r} is not "
                                f"<date>/jdcloud-api/cdn/jdcloud3_request")
        return access_key_id

    @staticmethod
    def _check_signed_names(names: list[str], headers: dict[str, list[str]]) -> None:
        required = list(REQUIRED_SIGNED)
        if signing.TOKEN_HEADER in headers:
            required.append(signing.TOKEN_HEADER)
        missing = [name for name in required if name not in names]
        if missing:
            raise ApiError(401, f"headers not signed: {', '.join(missing)}")
        if signing.NEVER_SIGNED.intersection(names) or names != sorted(set(names)):
            raise ApiError(401, "SignedHeaders must be sorted, unique, without "
                                "authorization and user-agent")
        absent = [name for name in names if name not in headers]
        if absent:
            raise ApiError(401, f"signed headers not sent: {', '.join(absent)}")

    @staticmethod
    def _check_token(key: Key, headers: dict[str, list[str]]) -> None:
        token = _one(headers, signing.TOKEN_HEADER)
        if key.token is None and token is not None:
            raise ApiError(401, "a security token was sent with a permanent access key")
        if key.token is not None and token is None:
            raise ApiError(401, "temporary access key without x-jdcloud-security-token")
        if key.token is not None and not hmac.compare_digest(key.token, token or ""):
            raise ApiError(401, "security token is invalid or expired")

    def _use_nonce(self, nonce: str) -> None:
        """A nonce is good once. Nonces older than the skew window are forgotten: a
        replay of their request is refused for its date."""
        now = time.monotonic()
        with self.lock:
            if nonce in self.nonces:
                raise ApiError(401, "nonce already used")
            horizon = now - 2 * self.max_skew - 1
            if len(self.nonces) > MAX_CALLS:
                self.nonces = {n: t for n, t in self.nonces.items() if t > horizon}
            self.nonces[nonce] = now

    # -- operations ----------------------------------------------------------------------
    def route(self, method: str, target: str) -> Callable[[Any], dict[str, Any]]:
        """The operation for a request line: 404 for unknown paths, 405 for a wrong
        method, before authentication (as a gateway routes before it checks)."""
        path = target.partition("?")[0]
        routes: dict[str, tuple[str, Callable[[Any], dict[str, Any]]]] = {
            "/v1/task": ("POST", self.create_task),
            "/v1/task:queryByIds": ("POST", self.query_by_ids),
            "/v1/task:queryLimit": ("POST", self.query_limit),
            "/v1/user:quota": ("GET", self.query_cdn_user_quota),
        }
        task_id = TASK_ID_RE.fullmatch(path)
        if task_id:
            wanted, operation = "GET", self._query_one(unquote(task_id["id"]))
        elif path in routes:
            wanted, operation = routes[path]
        else:
            raise ApiError(404, f"no such API: {path}")
        if method != wanted:
            raise ApiError(405, f"{method} is not allowed on {path}")
        return operation

    def create_task(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        task_type, urls = body.get("taskType"), body.get("urls")
        if task_type not in LIMITS:
            raise ApiError(400, "taskType must be url, dir or prefetch")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ApiError(400, "urls must be a non-empty list of strings")
        if len(urls) > LIMITS[task_type]:
            raise ApiError(400, f"at most {LIMITS[task_type]} {task_type} URLs per call")
        if len(set(urls)) != len(urls):
            raise ApiError(400, "duplicate URLs")
        foreign = {url for url in urls if self._check_url(url, task_type == "dir")}
        if foreign and self.reject_foreign_domains:
            raise ApiError(400, f"domain not on this account: {sorted(foreign)[0]}")
        with self.lock:
            if self.used[task_type] + len(urls) > DAILY_QUOTA[task_type]:
                raise ApiError(400, f"daily {task_type} quota exceeded")
            self.used[task_type] += len(urls)
        task = self._new_task(task_type, urls, foreign)
        return {"taskId": task.task_id, "errorCount": len(foreign)}

    def _check_url(self, url: str, directory: bool) -> bool:
        """Raise for a URL the API refuses outright; True for a domain not on the account."""
        if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
            raise ApiError(400, f"url not encoded: {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, f"illegal url: {url!r}")
        if directory and not url.endswith("/"):
            raise ApiError(400, f"a directory must end with /: {url!r}")
        return parts.hostname not in self.domains

    def _new_task(self, task_type: str, urls: list[str], foreign: set[str]) -> RefreshTask:
        polls, final = self.task_script.get(task_type, (0, "success"))
        failed = set(urls) if final == "failed" else set()
        failed |= foreign | (set(urls) & self.fail_instances)
        url_polls = {url: max(polls, self.slow_instances.get(url, 0)) for url in urls}
        task_id = self.task_id_factory()
        task = RefreshTask(task_id, task_type, list(urls), self.clock(), url_polls, failed,
                           spelling=self.url_spelling,
                           unlisted=frozenset(self.unlisted_instances),
                           list_running=self.list_running)
        with self.lock:
            self.tasks[task_id] = task
        return task

    def query_by_ids(self, body: Any) -> dict[str, Any]:
        ids = body.get("taskIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids \
                or not all(isinstance(i, str) and i for i in ids):
            raise ApiError(400, "taskIds must be a non-empty list of task IDs")
        if len(ids) > 10:
            raise ApiError(400, "at most 10 taskIds per call")
        with self.lock:  # unknown IDs are left out, as the real API does with others' IDs
            tasks = [self.tasks[i] for i in dict.fromkeys(ids) if i in self.tasks]
            for task in tasks:
                task.polls += 1
            return {"tasks": [task.as_json() for task in tasks]}

    def _query_one(self, task_id: str) -> Callable[[Any], dict[str, Any]]:
        def query(_body: Any) -> dict[str, Any]:
            with self.lock:
                task = self.tasks.get(task_id)
                if task is None:
                    raise ApiError(404, f"no such task: {task_id}")
                task.polls += 1
                return {"task": task.as_json()}
        return query

    def query_limit(self, _body: Any) -> dict[str, Any]:
        with self.lock:
            return {"user": "fake", "refreshCount": DAILY_QUOTA["url"] - self.used["url"],
                    "dirCount": DAILY_QUOTA["dir"] - self.used["dir"],
                    "prefetchCount": DAILY_QUOTA["prefetch"] - self.used["prefetch"],
                    "subUserQuota": []}

    def query_cdn_user_quota(self, _body: Any) -> dict[str, Any]:
        """JD's answer: the day's total, used and remaining count per kind, and more."""
        answer: dict[str, Any] = {}
        with self.lock:
            for kind, name in (("url", "refresh"), ("dir", "dir"), ("prefetch", "prefetch")):
                total, used = self.daily[kind], self.used[kind]
                answer |= {f"{name}AllCount": total, f"{name}UsedCount": used,
                           f"{name}RemainedCount": max(0, total - used)}
        return answer | {"forbiddenUrlAllCount": 1000, "forbiddenUrlUsedCount": 0,
                         "forbiddenUrlRemainedCount": 1000}

    def handle(self, method: str, target: str, headers: dict[str, list[str]], raw: bytes
               ) -> tuple[Any, dict[str, Any]]:
        """(parsed body, result) of an authenticated, routed, well-formed request."""
        operation = self.route(method, target)
        self.authenticate(method, target, headers, raw)
        name = OPERATIONS.get(getattr(operation, "__name__", ""), "")
        if name in self.denied:
            raise ApiError(403, f"the policy does not allow cdn:{name}")
        body: Any = None
        if method == "POST":
            if (_one(headers, "content-type") or "").partition(";")[0].strip().lower() \
                    != "application/json":
                raise ApiError(400, "Content-Type must be application/json")
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "the body is not JSON") from None
        return body, operation(body)


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0].strip() if values else None


class _Handler(LoopbackHandler):
    fake: FakeOpenApi
    raw_body = b""
    timeout = 30  # a client that stops sending mid-request does not hold a thread forever

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self._envelope(None, ApiError(413, "body too large"))
        raw = self.raw_body = self.rfile.read(length)
        signed = AUTH_RE.search(self.headers.get("Authorization") or "")
        if signed:  # every signature sent, also to a fault, is one the leak check knows
            FakeOpenApi.SIGNATURES_SEEN.add(signed["signature"])
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        path = self.path.partition("?")[0]
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        call = ApiCall(path, parsed, dict(self.headers.items()), time.monotonic(),
                       method=self.command)
        with fake.lock:
            if fake.die_after is not None and len(fake.calls) >= fake.die_after:
                fake.dead = True
            if not fake.dead and len(fake.calls) < MAX_CALLS:
                fake.calls.append(call)
        if fake.dead:  # the host died: the listener is gone and connections are reset
            if fake.server is not None:
                fake.server.socket.close()
            return self._reset()
        if fake.latency:
            fake.pause(fake.latency)
        fault = fake._next_fault(path)
        if fault is not None and self._fault(call, fault):
            return None
        try:
            call.body, result = fake.handle(self.command, self.path, headers, raw)
        except ApiError as error:
            return self._envelope(call, error)
        call.request_id = new_request_id()
        call.code, call.answer = 200, {"requestId": call.request_id, "result": result}
        self._send(200, json.dumps(call.answer), {"x-jdcloud-request-id": call.request_id})

    def _fault(self, call: ApiCall, fault: Fault) -> bool:
        """Serve ``fault``; False when the request is then to be answered normally."""
        if fault.kind == "reset":
            call.answer = "reset"
            self._reset()
        elif fault.kind == "sleep":
            self.fake.pause(fault.seconds)
            return False
        elif fault.kind == "http":
            call.code, call.answer = fault.code, f"http {fault.code}"
            self._send(fault.code, fault.body or '{"error": "fault"}', fault.headers)
        elif fault.kind == "html":
            call.code, call.answer = 200, "html"
            self._send(200, "<html><body>Bad gateway</body></html>",
                       {"Content-Type": "text/html"})
        elif fault.kind == "jd":
            name = getattr(fault, "name", "") or ""
            message = getattr(fault, "message", "") or fault.body or "scripted"
            self._envelope(call, ApiError(fault.code, message, name), fault.headers)
        elif isinstance(fault, EchoFault):
            auth = self.headers.get("Authorization") or ""
            token = self.headers.get(signing.TOKEN_HEADER) or ""
            first = (f"token {token} signature {auth.rpartition('Signature=')[2]} does not "
                     "match")
            self._envelope(call, ApiError(fault.code, echo_text(
                fault, first, dict(self.headers.items()), self.raw_body)))
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return True

    def _envelope(self, call: ApiCall | None, error: ApiError,
                  headers: dict[str, str] | None = None) -> None:
        request_id = new_request_id()
        answer = {"requestId": request_id,
                  "error": {"code": error.code, "status": error.name, "message": error.message}}
        if call is not None:
            call.code, call.answer, call.request_id = error.code, answer, request_id
        self._send(error.code, json.dumps(answer),
                   {"x-jdcloud-request-id": request_id, **(headers or {})})


FakeOpenApi.handler = _Handler
