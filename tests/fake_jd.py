"""A fake JD Cloud CDN legacy API on 127.0.0.1, checking what the real one would.

It verifies the username, the signature for the date in UTC+8 (optionally UTC), field
names and types, the per-call limits (100 URLs, 5 directories, 50 prefetch URLs),
directory URLs ending in ``/``, absolute URLs without raw spaces, and the domains on the
account. It can be scripted to fail: HTTP errors with ``Retry-After``, JD statuses, slow
answers (client timeouts), dropped connections, non-JSON bodies. Tasks created by refresh
and prefetch calls move through refreshQuery/prefetchQuery states as scripted: by kind
(``task_script``) or by URL (``fail_instances`` end failed, ``slow_instances`` stay in
progress for more polls).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from tests.loopback import LoopbackHandler, LoopbackServer

CN = dt.timezone(dt.timedelta(hours=8))


def md5_signature(username: str, secret: str, day: dt.date) -> str:
    return hashlib.md5(f"{day:%Y%m%d}{username}{secret}".encode()).hexdigest()


@dataclass
class Fault:
    """One scripted misbehaviour, used by the next matching request.

    kind: "http" (status ``code``, ``headers``, ``body``), "jd" (JD ``status``),
    "html" (200 with an HTML page), "sleep" (wait ``seconds`` then answer normally),
    "reset" (close the connection without an answer), "trickle" (a 200 whose body comes
    one byte every ``seconds``, ``code`` bytes in all: each read is quick, the whole slow),
    "trickle-head" (the same with the headers: ``code`` bytes of a long header line).
    """

    kind: str
    code: int = 500
    status: int = 0
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


#: The forms in which a server may echo what it was sent: each turns text into that form.
ECHO_FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda text: text,
    "json": lambda text: json.dumps(text)[1:-1],
    "json-slash": lambda text: json.dumps(text)[1:-1].replace("/", "\\/"),  # PHP, Java
    "repr": lambda text: repr(text)[1:-1],
    "percent": lambda text: quote(text, safe=""),
    "percent-lower": lambda text: re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(),
                                         quote(text, safe="")),
    "uri-component": lambda text: quote(text, safe="!'()*~"),  # JavaScript's
    "form": lambda text: quote_plus(text, safe=""),
    "html": html.escape,
}


@dataclass
class EchoFault(Fault):
    """An error whose text echoes everything the request carried, the way a careless
    gateway does: ``first`` (the credentials the fake names first, e.g. ``signature <sig>
    does not match for token <token>``), then every header and the body, all in ``form``
    (see ``ECHO_FORMS``), after ``lead`` filler characters (which move the credentials to
    where a client cuts a long message). The legacy fake answers JD ``status``; the OpenAPI
    fake its error envelope with HTTP ``code``."""

    kind: str = "echo"
    form: str = "raw"
    lead: int = 0
    status: int = 7
    code: int = 401


def echo_text(fault: EchoFault, first: str, headers: Mapping[str, str], body: bytes) -> str:
    said = ("x" * fault.lead + first + "; request headers: "
            + "; ".join(f"{name}: {value}" for name, value in headers.items())
            + "; body: " + body.decode("utf-8", "replace"))
    return ECHO_FORMS[fault.form](said)


@dataclass
class Call:
    path: str
    body: Any
    headers: dict[str, str]
    at: float
    answer: Any = None


@dataclass
class Task:
    task_id: str
    kind: str  # refresh or prefetch
    instances: list[str]
    polls_until_done: int = 0
    final_status: int = 0  # 0 succeeded, 2 failed
    polls: int = 0


class FakeJd(LoopbackServer):
    """Start with ``with FakeJd() as jd:``; ``jd.endpoint`` is the api-endpoint to use."""

    def __init__(
        self,
        username: str = "jcloud_test",
        secret: str = "s3cr3t-KEY-0123456789abcdef",
        domains: tuple[str, ...] = ("www.example.com", "cdn.example.com", "static.example.com"),
        accept_utc_date: bool = False,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.username = username
        self.secret = secret
        self.domains = set(domains)
        self.accept_utc_date = accept_utc_date
        self.latency = latency
        self.calls: list[Call] = []
        self.tasks: dict[str, Task] = {}
        self.task_script: dict[str, tuple[int, int]] = {}  # by kind: (polls, final status)
        self.fail_instances: set[str] = set()  # URLs whose tasks end failed
        self.slow_instances: dict[str, int] = {}  # URL -> polls its tasks stay in progress
        self.task_id_factory: Callable[[], str] = lambda: str(uuid.uuid4())  # JD's IDs: any
        self.die_after: int | None = None  # after this many requests, act as a dead host
        self.dead = False

    # -- scripting -----------------------------------------------------------------------
    # -- what happened -------------------------------------------------------------------
    def requests(self, path: str = "/api/refresh") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def accepted(self, path: str = "/api/refresh") -> list[Call]:
        return [c for c in self.requests(path)
                if isinstance(c.answer, dict) and c.answer.get("status") == 0]

    def refreshed(self, kind: str | None = None) -> set[str]:
        """Every instance of an accepted refresh call (of ``kind`` file/dir if given)."""
        return {u for c in self.accepted() if kind in (None, c.body.get("type"))
                for u in c.body["instances"]}

    def prefetched(self) -> list[list[str]]:
        """The URL lists of the accepted prefetch calls, in the order they came."""
        return [c.body["publish_urls"] for c in self.accepted("/api/prefetch")]

    def task_of(self, url: str, kind: str = "refresh") -> Task:
        """The (last) task of ``kind`` whose instances hold ``url``."""
        with self.lock:
            return [t for t in self.tasks.values() if t.kind == kind and url in t.instances][-1]

    def valid_signatures(self) -> set[str]:
        now = dt.datetime.now(dt.UTC)
        days = {now.astimezone(CN).date()}
        if self.accept_utc_date:
            days.add(now.date())
        return {md5_signature(self.username, self.secret, d) for d in days}


    # -- the API -------------------------------------------------------------------------
    def answer(self, path: str, body: Any) -> dict[str, Any]:
        """What the real API would answer to a well-formed HTTP request."""
        if not isinstance(body, dict):
            return {"status": 2, "msg": "parameters missing"}
        if not body.get("username"):
            return {"status": 3, "msg": "username missing"}
        if not body.get("signature"):
            return {"status": 4, "msg": "signature missing"}
        if body["username"] != self.username:
            return {"status": 20, "msg": "user does not exist"}
        if body["signature"] not in self.valid_signatures():
            return {"status": 7, "msg": "signature incorrect"}
        if path == "/api/refresh":
            return self._refresh(body)
        if path == "/api/prefetch":
            return self._prefetch(body)
        if path in ("/api/refreshQuery", "/api/prefetchQuery"):
            return self._query(body, "refresh" if path == "/api/refreshQuery" else "prefetch")
        return {"status": 1, "msg": f"no such API {path}"}

    def _check_urls(self, urls: Any, directories: bool) -> dict[str, Any] | None:
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            return {"status": 6, "msg": "instances missing"}
        if len(set(urls)) != len(urls):
            return {"status": 47, "msg": "duplicate addresses"}
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return {"status": 17, "msg": f"illegal url {url!r}"}
            if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
                return {"status": 1, "msg": f"url not encoded {url!r}"}
            if directories and not url.endswith("/"):
                return {"status": 1, "msg": f"directory must end with / {url!r}"}
            if parts.hostname not in self.domains:
                return {"status": 15, "msg": f"domain {parts.hostname} not on this account"}
        return None

    def _refresh(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("type")
        if kind is None:
            return {"status": 5, "msg": "type missing"}
        if kind not in ("file", "dir"):
            return {"status": 16, "msg": "type format error"}
        if "instances" not in body:
            return {"status": 6, "msg": "instances missing"}
        instances = body["instances"]
        if isinstance(instances, list):
            if kind == "file" and len(instances) > 100:
                return {"status": 9, "msg": "more than 100 urls"}
            if kind == "dir" and len(instances) > 5:
                return {"status": 46, "msg": "more than 5 directories"}
        problem = self._check_urls(instances, kind == "dir")
        if problem:
            return problem
        return {"status": 0, "msg": "Successful", "taskid": self._new_task("refresh", instances)}

    def _prefetch(self, body: dict[str, Any]) -> dict[str, Any]:
        urls = body.get("publish_urls")
        if isinstance(urls, list) and len(urls) > 50:
            return {"status": 10, "msg": "more than 50 prefetch urls"}
        problem = self._check_urls(urls, False)
        if problem:
            return problem
        return {"status": 0, "msg": "Successful", "taskid": self._new_task("prefetch", urls)}

    def _new_task(self, kind: str, instances: list[str]) -> str:
        polls, final = self.task_script.get(kind, (0, 0))
        if any(u in self.fail_instances for u in instances):
            final = 2
        polls = max([polls] + [self.slow_instances.get(u, 0) for u in instances])
        task = Task(self.task_id_factory(), kind, list(instances), polls, final)
        with self.lock:
            self.tasks[task.task_id] = task
        return task.task_id

    def _query(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        task_id = body.get("taskid")
        if not task_id:
            return {"status": 11, "msg": "taskid missing"}
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None or task.kind != kind:
                return {"status": 1, "msg": "no such task"}
            task.polls += 1
            state = 1 if task.polls <= task.polls_until_done else task.final_status
        return {"status": 0, "msg": "Successful",
                "data": {"taskid": task_id, "status": state, "msg": ""}}


class _Handler(LoopbackHandler):
    fake: FakeJd

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if self.headers.get_content_type() == "application/json" \
                else None
        except ValueError:
            body = None
        call = Call(self.path, body, dict(self.headers.items()), time.monotonic())
        with fake.lock:
            if fake.die_after is not None and len(fake.calls) >= fake.die_after:
                fake.dead = True
            if not fake.dead:
                fake.calls.append(call)
        if fake.dead:  # the host died: the listener is gone and connections are reset
            if fake.server is not None:
                fake.server.socket.close()
            return self._reset()
        if fake.latency:
            fake.pause(fake.latency)
        fault = fake._next_fault(self.path)
        if fault is not None:
            if fault.kind == "reset":
                call.answer = "reset"
                return self._reset()
            if fault.kind == "sleep":
                fake.pause(fault.seconds)
            elif fault.kind == "http":
                call.answer = f"http {fault.code}"
                return self._send(fault.code, fault.body or '{"error": "fault"}',
                                  fault.headers)
            elif fault.kind == "html":
                call.answer = "html"
                return self._send(200, "<html><body>Bad gateway</body></html>",
                                  {"Content-Type": "text/html"})
            elif fault.kind == "jd":
                call.answer = {"status": fault.status, "msg": "scripted"}
                return self._send(200, json.dumps(call.answer))
            elif fault.kind in ("trickle", "trickle-head"):
                call.answer = fault.kind
                return self._trickle(fault.code, fault.seconds, fault.kind == "trickle-head")
            elif fault.kind == "echo":
                sent = body if isinstance(body, dict) else {}
                first = (f"signature {sent.get('signature')} does not match for user "
                         f"{sent.get('username')}")
                call.answer = {"status": fault.status,
                               "msg": echo_text(fault, first, dict(self.headers.items()), raw)}
                return self._send(200, json.dumps(call.answer))
        if body is None:
            call.answer = {"status": 2, "msg": "parameters missing (not a JSON body)"}
        else:
            call.answer = fake.answer(self.path, body)
        self._send(200, json.dumps(call.answer))

    def _trickle(self, size: int, every: float, head: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if head:  # a header line that never ends in time: no answer has begun
            self.flush_headers()
            self.wfile.write(b"X-Slow: ")
        else:
            self.send_header("Content-Length", str(size))
            self.end_headers()
        deadline = time.monotonic() + 60  # bounded: the test server stops by itself
        with contextlib.suppress(OSError):
            for _ in range(size):
                if time.monotonic() > deadline:
                    break
                self.wfile.write(b" ")
                self.wfile.flush()
                if not self.fake.pause(every):
                    break


FakeJd.handler = _Handler
