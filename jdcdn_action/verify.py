"""``verify``: fetch what was refreshed from the CDN and compare it with what was built.

A 200 from the refresh API, even a task JD reports finished, does not prove that the edge
now serves the new file. This fetches every checkable URL with a plain GET, as a visitor
would, and compares the SHA-256 of the decoded body with the local copy (a file git saw
deleted must answer 404 or 410). URLs that still serve something else are fetched again
with backoff until they are fresh or ``verify-timeout`` passes.

The fetches carry nothing of the run's credentials: the session (``api.http``'s, with the
run's proxies and CA files and the whole-request deadline) has only a User-Agent and keeps
no cookies, and a redirect is never followed (it is stale, naming where it pointed).

The clock and the sleep are injected, so tests can run minutes of re-fetching in no time.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jdcdn_action.console import Console, clean_text, count
from jdcdn_action.results import RunResult, UrlCheck, Verification
from jdcdn_action.verify_plan import (
    Target,
    local_copy,
    local_path,
    no_copy_reason,
    plan_targets,
)
from jdcdn_action.waiting import _seconds

if TYPE_CHECKING:
    import requests

    from jdcdn_action.network import Network
    from jdcdn_action.settings import Settings

MAX_BODY = 100 * 1024 * 1024  # bytes of a decoded body read at most
FETCH_HINT = "check base-url and the network"
MAX_DELAY = 30.0  # seconds between rounds at most
MIN_TIMEOUT = 0.5  # seconds: the least a fetch is given, even at the end of verify-timeout
MARGIN = 0.05  # seconds: a round does not start closer than this to verify-timeout
CACHE_HEADERS = ("age", "cache-status", "via", "etag", "last-modified")
SHOWN_STALE = 20  # stale URLs listed in the log


@dataclass(frozen=True)
class Fetched:
    """One GET's answer: the status, the SHA-256 of the decoded body (read only for a 200),
    the cache headers, a redirect's Location; or ``error`` when there was no answer."""

    status: int | None
    sha256: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    location: str = ""
    error: str = ""


def new_session(network: Network, pool_size: int) -> requests.Session:
    """A session for plain GETs, going the run's way out (its proxies and CA files): a
    User-Agent and nothing else of ours (no credential, signature or JD header), and no
    cookies kept from one URL to the next."""
    from jdcdn_action.api.http import new_session as http_session

    session = http_session(network, pool_size)
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def fetch(session: requests.Session, url: str, timeout: float,
          max_body: int = MAX_BODY) -> Fetched:
    """GET ``url`` within ``timeout`` seconds without following a redirect; hash the
    decoded body of a 200 as it streams, reading at most ``max_body`` bytes."""
    from jdcdn_action.api.http import Permanent, Transient, exchange, read_body

    try:
        with exchange(session, "GET", url, timeout=timeout, hint=FETCH_HINT) as answer:
            headers = cache_headers(answer.headers)
            status = answer.status_code
            if 300 <= status < 400:
                return Fetched(status, headers=headers,
                               location=clean_text(answer.headers.get("Location", ""), 300))
            if status != 200:
                return Fetched(status, headers=headers)
            digest = hashlib.sha256()
            try:
                read_body(answer, max_body, sink=digest.update)  # decoded: gzip, deflate...
            except Permanent:  # too large: the answer stands, its body unread
                return Fetched(status, headers=headers, error=(
                    f"the body is larger than {max_body // (1024 * 1024)} MB; not read "
                    "further"))
            return Fetched(status, digest.hexdigest(), headers)
    except (Transient, Permanent) as failure:
        return Fetched(None, error=str(failure))


def cache_headers(headers: object) -> dict[str, str]:
    """The headers that say which cache answered and how old its copy is."""
    items = headers.items() if hasattr(headers, "items") else []
    return {clean_text(name, 60): clean_text(value, 200) for name, value in items
            if name.lower() in CACHE_HEADERS or name.lower().startswith("x-cache")}


def judge(check: UrlCheck, fetched: Fetched) -> None:
    """Record one fetch in ``check``: fresh when it serves the local copy (or, for a
    deleted file, 404 or 410), stale otherwise, with why."""
    check.attempts += 1
    check.last_status = fetched.status
    check.last_sha256 = fetched.sha256
    check.headers = fetched.headers
    check.location = fetched.location
    code = f"HTTP {fetched.status}"
    if fetched.error:
        check.outcome, check.detail = "stale", (
            f"{code}: {fetched.error}" if fetched.status else fetched.error)
    elif fetched.location or (fetched.status and 300 <= fetched.status < 400):
        host = _host(fetched.location)
        where = f"to {host}" if host else ("to another path" if fetched.location
                                           else "without a Location")
        check.outcome, check.detail = "stale", (
            f"{code}: redirected {where}; redirects are not followed")
    elif check.expect_gone:
        fresh = fetched.status in (404, 410)
        check.outcome = "fresh" if fresh else "stale"
        check.detail = "" if fresh else f"{code}: still served, though git saw the file " \
                                        "deleted (expected 404 or 410)"
    elif fetched.status != 200:
        check.outcome, check.detail = "stale", f"{code}, not 200"
    elif fetched.sha256 == check.expected_sha256:
        check.outcome, check.detail = "fresh", ""
    else:
        check.outcome, check.detail = "stale", "the body differs from the local file"


def prepare(target: Target, source_dir: str, index_files: Sequence[str]) -> UrlCheck:
    """A target's check, with the SHA-256 of its local copy; unchecked when it has none."""
    if target.path is None:
        return UrlCheck(target.url, "unchecked", detail=target.why)
    local = local_copy(source_dir, target.path, index_files)
    if local is None:
        if target.deleted and target.path and not target.path.endswith("/"):
            return UrlCheck(target.url, local_file=local_path(source_dir, target.path),
                            expect_gone=True, detail="not fetched yet")
        return UrlCheck(target.url, "unchecked",
                        detail=no_copy_reason(source_dir, target, index_files))
    try:
        if os.path.getsize(local) > MAX_BODY:
            return UrlCheck(target.url, "unchecked", local_file=local, detail=(
                f"the local file is larger than {MAX_BODY // (1024 * 1024)} MB, the most "
                "verify reads of a body"))
        expected = file_sha256(local)
    except OSError as error:
        return UrlCheck(target.url, "unchecked", local_file=local,
                        detail=f"the local file cannot be read ({error.strerror})")
    return UrlCheck(target.url, local_file=local, expected_sha256=expected,
                    detail="not fetched yet")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_rounds(
    checks: Sequence[UrlCheck],
    get: Callable[[str, float], Fetched],
    *,
    concurrency: int,
    timeout: float,
    verify_timeout: float,
    backoff: float,
    console: Console,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Fetch every check once, then the stale ones again, the pause doubling from
    ``backoff`` up to 30 s, until none is stale or ``verify-timeout`` has passed.

    After the first round no fetch starts once verify-timeout has passed, and each is
    given at most the time left (at least 0.5 s), so the whole ends within verify-timeout
    and about a second, however many URLs stay stale.
    """
    end = clock() + verify_timeout
    started = clock()
    delay = max(backoff, 0.01)
    pending = list(checks)
    first = True

    def one(check: UrlCheck) -> None:
        wait = timeout
        if not first:
            left = end - clock()
            if left <= 0:
                return  # out of time: the check keeps its last answer
            wait = min(timeout, max(MIN_TIMEOUT, left))
        judge(check, get(check.url, wait))

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(pending))),
                              thread_name_prefix="jdcdn-verify")
    try:
        rounds = 0
        while pending:
            if not first:
                left = end - clock()
                if left <= MARGIN:
                    break
                sleep(min(delay, left - MARGIN))
                delay = min(delay * 2, MAX_DELAY)
            list(pool.map(one, pending))
            rounds += 1
            first = False
            pending = [c for c in pending if c.outcome == "stale"]
            if pending:
                console.info(f"verify: {count(len(pending), 'URL')} of {len(checks)} still "
                             f"stale after {count(rounds, 'round')} "
                             f"({_seconds(clock() - started)} of "
                             f"{_seconds(verify_timeout)}).")
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # fetches in flight end in time
        raise
    finally:
        pool.shutdown(wait=True)


def run_verify(settings: Settings, console: Console, result: RunResult,
               get: Callable[[str, float], Fetched] | None = None,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Verification:
    """Verify the run's plan; the result is ``result.verification`` from the start, so an
    interrupted verify still reports every URL (those not confirmed fresh as stale)."""
    started = clock()
    targets = plan_targets(result.plan, result.failed)
    checks = [prepare(t, settings.source_dir, settings.index_files) for t in targets]
    verification = Verification(checks, settings.verify_timeout)
    result.verification = verification
    to_fetch = [c for c in checks if c.outcome != "unchecked"]
    unchecked = len(checks) - len(to_fetch)
    console.info(f"Verifying {count(len(to_fetch), 'URL')} against the CDN ({unchecked} "
                 f"unchecked), for at most {_seconds(settings.verify_timeout)}.")
    session = None
    if get is None:
        session = new_session(settings.network, settings.concurrency)
        get = lambda url, timeout: fetch(session, url, timeout)  # noqa: E731
    try:
        if to_fetch:
            fetch_rounds(to_fetch, get, concurrency=settings.concurrency,
                         timeout=settings.timeout, verify_timeout=settings.verify_timeout,
                         backoff=settings.backoff, console=console, clock=clock, sleep=sleep)
    finally:
        verification.seconds = round(clock() - started, 3)
        if session is not None:
            session.close()
    stale = [c for c in checks if c.outcome == "stale"]
    for check in stale[:SHOWN_STALE]:
        console.info(f"  stale: {check.url}: {check.detail} "
                     f"({count(check.attempts, 'fetch', 'fetches')})")
    if len(stale) > SHOWN_STALE:
        console.info(f"  ... and {len(stale) - SHOWN_STALE} more stale (see the report).")
    console.info(f"Verify: {len(verification.fresh)} fresh, {len(stale)} stale, "
                 f"{unchecked} unchecked ({_seconds(verification.seconds)}).")
    return verification


def _host(location: str) -> str:
    try:
        return urlsplit(location).hostname or ""
    except ValueError:
        return ""


def check_source_dir(source_dir: str) -> None:
    """Before anything is sent: verify reads every local copy from ``source-dir``."""
    from jdcdn_action.entries import show
    from jdcdn_action.exceptions import InputError

    if not os.path.isdir(source_dir or "."):
        raise InputError(f"source-dir: {show(source_dir)} is not a folder, and verify reads "
                         "the local copy of every URL from it; set source-dir to the folder "
                         "served at base-url (relative to the working directory), or turn "
                         "verify off. Nothing was sent.")
