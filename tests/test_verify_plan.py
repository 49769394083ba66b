"""``verify`` in parts: which URLs are checked against which local file, one fetch, the
verdict, and the rounds of re-fetching (with an injected clock: minutes in no time)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from jdcdn_action import __version__
from jdcdn_action import verify as verify_mod
from jdcdn_action.console import Console
from jdcdn_action.entries import Entry
from jdcdn_action.network import Network
from jdcdn_action.results import UrlCheck
from jdcdn_action.urls import map_entries
from jdcdn_action.verify import Fetched, fetch, fetch_rounds, judge, new_session, prepare
from jdcdn_action.verify_plan import (
    ABSOLUTE,
    DIRECTORY,
    NOT_REFRESHED,
    Target,
    local_copy,
    plan_targets,
)
from tests.fake_edge import FakeEdge
from tests.helpers import BASE, FakeClock


def plan_of(*entries: Entry):
    return map_entries(entries, (BASE,))


# -- planning --------------------------------------------------------------------------------
def test_targets_every_file_url_then_the_directories():
    plan = plan_of(Entry("b.html", "paths"), Entry("docs/index.html", "paths"),
                   Entry("https://www.example.com/abs.html", "paths"), Entry("img/", "paths"),
                   Entry("gone.html", "git diff", "file", True, deleted=True))
    assert plan_targets(plan) == [
        Target(BASE + "abs.html", why=ABSOLUTE),
        Target(BASE + "b.html", "b.html"),
        Target(BASE + "docs/", "docs/"),
        Target(BASE + "docs/index.html", "docs/index.html"),
        Target(BASE + "gone.html", "gone.html", deleted=True),
        Target(BASE + "img/", why=DIRECTORY),
    ]


def test_urls_whose_refresh_failed_are_not_fetched():
    plan = plan_of(*(Entry(p, "paths") for p in ("a.html", "b.html", "c/")))
    targets = plan_targets(plan, failed=[BASE + "b.html", BASE + "c/"])
    assert [(t.url, t.why) for t in targets] == [
        (BASE + "a.html", ""), (BASE + "b.html", NOT_REFRESHED), (BASE + "c/", DIRECTORY)]


def test_files_folded_into_a_directory_are_still_checked_unless_it_failed():
    from jdcdn_action.budget import collapse

    plan = collapse(plan_of(*(Entry(f"a/f{i}.js", "paths") for i in range(4))), (BASE,), 2,
                    50).plan
    assert plan.files == () and plan.dirs == (BASE + "a/",)
    targets = plan_targets(plan)
    assert [t.path for t in targets] == [f"a/f{i}.js" for i in range(4)] + [None]
    failed = plan_targets(plan, failed=[BASE + "a/"])
    assert {t.why for t in failed[:4]} == {NOT_REFRESHED}


def test_a_folder_is_served_by_its_first_index_file_that_exists(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.htm").write_text("htm")
    (tmp_path / "a.html").write_text("a")
    names = ("index.html", "index.htm")
    assert local_copy(str(tmp_path), "docs/", names) == str(tmp_path / "docs" / "index.htm")
    assert local_copy(str(tmp_path), "", names) is None
    (tmp_path / "index.html").write_text("home")
    assert local_copy(str(tmp_path), "", names) == str(tmp_path / "index.html")
    assert local_copy(str(tmp_path), "a.html", names) == str(tmp_path / "a.html")
    assert local_copy(str(tmp_path), "docs", names) is None  # a folder is not a file
    assert local_copy(str(tmp_path), "docs/", ()) is None


def test_prepare_hashes_the_local_copy_or_says_why_not(tmp_path: Path, monkeypatch):
    (tmp_path / "a.html").write_bytes(b"hello")
    (tmp_path / "big.bin").write_bytes(b"0123456789")
    source = str(tmp_path)
    check = prepare(Target(BASE + "a.html", "a.html"), source, ())
    assert (check.outcome, check.local_file) == ("stale", str(tmp_path / "a.html"))
    assert check.expected_sha256 == \
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    gone = prepare(Target(BASE + "gone.html", "gone.html", deleted=True), source, ())
    assert gone.expect_gone and gone.outcome == "stale" and not gone.expected_sha256
    # Deleted in git, but the built site has it: its local copy decides.
    rebuilt = prepare(Target(BASE + "a.html", "a.html", deleted=True), source, ())
    assert not rebuilt.expect_gone and rebuilt.expected_sha256 == check.expected_sha256
    folder = prepare(Target(BASE + "docs/", "docs/", deleted=True), source, ("index.html",))
    assert folder.outcome == "unchecked" and "index file was deleted" in folder.detail
    missing = prepare(Target(BASE + "m.html", "m.html"), source, ())
    assert (missing.outcome, missing.detail) == (
        "unchecked", f"no local file {os.path.join(source, 'm.html')}")
    assert prepare(Target(BASE + "x/", why=DIRECTORY), source, ()).detail == DIRECTORY
    monkeypatch.setattr(verify_mod, "MAX_BODY", 9)
    big = prepare(Target(BASE + "big.bin", "big.bin"), source, ())
    assert big.outcome == "unchecked" and "larger than" in big.detail


# -- the verdict -----------------------------------------------------------------------------
@pytest.mark.parametrize("gone, fetched, outcome, detail", [
    (False, Fetched(200, "aaa"), "fresh", ""),
    (False, Fetched(200, "bbb"), "stale", "the body differs from the local file"),
    (False, Fetched(404), "stale", "HTTP 404, not 200"),
    (False, Fetched(301, location="https://other.example.org/a"), "stale",
     "HTTP 301: redirected to other.example.org; redirects are not followed"),
    (False, Fetched(302, location="/elsewhere"), "stale",
     "HTTP 302: redirected to another path; redirects are not followed"),
    (False, Fetched(None, error="connection failed (connection refused)"), "stale",
     "connection failed (connection refused)"),
    (False, Fetched(200, error="the body is larger than 100 MB; not read further"), "stale",
     "HTTP 200: the body is larger than 100 MB; not read further"),
    (True, Fetched(404), "fresh", ""),
    (True, Fetched(410), "fresh", ""),
    (True, Fetched(200, "aaa"), "stale",
     "HTTP 200: still served, though git saw the file deleted (expected 404 or 410)"),
    (True, Fetched(301, location="https://h/"), "stale",
     "HTTP 301: redirected to h; redirects are not followed"),
])
def test_judge(gone, fetched, outcome, detail):
    check = UrlCheck(BASE + "a", expected_sha256="" if gone else "aaa", expect_gone=gone)
    judge(check, fetched)
    assert (check.outcome, check.detail, check.attempts) == (outcome, detail, 1)
    assert check.last_status == fetched.status and check.location == fetched.location


# -- one fetch -------------------------------------------------------------------------------
@pytest.fixture
def edge(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_bytes(b"<h1>docs</h1>\n" * 1000)
    (tmp_path / "a.css").write_bytes(b"body {}\n")
    with FakeEdge(tmp_path, gzip=True) as server:
        yield server


def test_fetch_hashes_the_decoded_body_and_keeps_the_cache_headers(edge):
    session = new_session(Network(), 2)
    got = fetch(session, edge.base_url + "docs/", 5)
    assert got.status == 200 and not got.error
    assert got.sha256 == verify_mod.file_sha256(str(edge.site / "docs" / "index.html"))
    assert set(got.headers) == {"Via", "X-Cache", "Age", "Cache-Status", "ETag",
                                "Last-Modified"}
    [seen] = edge.requests()
    assert "gzip" in seen.headers["Accept-Encoding"]  # the body came compressed
    assert seen.headers["User-Agent"] == f"jdcdn-action/{__version__}"


def test_fetch_sends_no_credential_and_keeps_no_cookie(edge, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password netrc-s3cret\n")
    monkeypatch.setenv("NETRC", str(netrc))  # requests would send it as Basic auth
    session = new_session(Network(), 2)
    for _ in range(2):
        assert fetch(session, edge.base_url + "a.css", 5).status == 200
    assert len(edge.requests()) == 2
    for seen in edge.requests():
        names = {name.lower() for name in seen.headers}
        assert names == {"host", "user-agent", "accept-encoding", "accept", "connection"}


def test_fetch_follows_no_redirect(edge, tmp_path):
    with FakeEdge(tmp_path) as elsewhere:
        edge.redirect("/a.css", f"http://localhost:{elsewhere.port}/a.css", 302)
        got = fetch(new_session(Network(), 1), edge.base_url + "a.css", 5)
        assert (got.status, got.location) == (302, f"http://localhost:{elsewhere.port}/a.css")
        assert elsewhere.requests() == []


def test_fetch_reads_at_most_max_body(edge):
    got = fetch(new_session(Network(), 1), edge.base_url + "docs/", 5, max_body=4096)
    assert got.status == 200 and not got.sha256 and "larger than" in got.error


def test_fetch_reads_no_body_but_a_200s(edge):
    got = fetch(new_session(Network(), 1), edge.base_url + "missing.html", 5)
    assert (got.status, got.sha256, got.error) == (404, "", "")


def test_fetch_names_a_refused_connection():
    got = fetch(new_session(Network(), 1), "http://127.0.0.1:9/a", 5)
    assert got.status is None
    assert got.error == "127.0.0.1:9 refused the connection; check base-url and the network"


# -- the rounds ------------------------------------------------------------------------------
class Clock(FakeClock):
    """A fake monotonic clock: sleeping and fetching move it, nothing waits."""

    def __init__(self, fetch_takes: float = 0.1) -> None:
        super().__init__()
        self.fetch_takes = fetch_takes
        self.fetches: list[tuple[str, float, float]] = []  # url, when, its timeout

    def getter(self, stale_for: dict[str, int | None]):
        """A fetch: each URL serves the old copy for its first N fetches (None: always)."""
        def get(url: str, timeout: float) -> Fetched:
            self.fetches.append((url, self.now, timeout))
            self.now += self.fetch_takes
            done = sum(1 for u, _, _ in self.fetches if u == url)
            times = stale_for.get(url, 0)
            old = times is None or done <= times
            return Fetched(200, "old" if old else "new")
        return get


def checks(*urls: str) -> list[UrlCheck]:
    return [UrlCheck(url, expected_sha256="new") for url in urls]


def rounds(items, clock, *, verify_timeout=300.0, backoff=1.0, stale_for=None, timeout=30.0):
    fetch_rounds(items, clock.getter(stale_for or {}), concurrency=1, timeout=timeout,
                 verify_timeout=verify_timeout, backoff=backoff, console=Console(),
                 clock=clock, sleep=clock.sleep)


def test_stale_urls_are_fetched_again_with_doubling_pauses_until_fresh(capsys):
    clock = Clock()
    items = checks("a", "b", "c")
    rounds(items, clock, stale_for={"b": 3, "c": 1})
    assert [c.outcome for c in items] == ["fresh"] * 3
    assert [c.attempts for c in items] == [1, 4, 2]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert "1 URL of 3 still stale after 2 rounds" in capsys.readouterr().out


def test_a_url_stale_for_ever_ends_at_verify_timeout():
    clock = Clock()
    start = clock.now
    items = checks("a", "b")
    rounds(items, clock, verify_timeout=100, stale_for={"b": None})
    assert [c.outcome for c in items] == ["fresh", "stale"]
    assert items[1].detail == "the body differs from the local file"
    # Pauses double up to 30 s; the last round comes just before the deadline.
    assert clock.sleeps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(clock.sleeps) == 30.0
    assert clock.now - start <= 100 + 0.1  # one fetch past the deadline at most
    assert items[1].attempts == len(clock.sleeps) + 1
    # Each later fetch is given no more than the time left, and at least 0.5 s.
    last_url, last_at, last_timeout = clock.fetches[-1]
    assert last_url == "b" and last_timeout <= max(0.5, start + 100 - last_at) + 1e-9


def test_verify_timeout_0_fetches_each_url_once():
    clock = Clock()
    items = checks("a", "b")
    rounds(items, clock, verify_timeout=0, stale_for={"a": None})
    assert [c.attempts for c in items] == [1, 1] and clock.sleeps == []
    assert [c.outcome for c in items] == ["stale", "fresh"]


def test_the_first_round_fetches_every_url_whatever_the_time():
    clock = Clock(fetch_takes=5.0)  # slow answers: the first round outlasts verify-timeout
    items = checks(*"abcd")
    rounds(items, clock, verify_timeout=3, stale_for=dict.fromkeys("abcd"))
    assert [c.attempts for c in items] == [1, 1, 1, 1]
    assert [timeout for _, _, timeout in clock.fetches] == [30.0] * 4


def test_no_fetch_starts_after_verify_timeout():
    clock = Clock(fetch_takes=3.0)
    items = checks(*"abcdef")
    rounds(items, clock, verify_timeout=20, backoff=1, stale_for=dict.fromkeys("abcdef"))
    deadline = 1000.0 + 20
    assert all(at < deadline for _, at, _ in clock.fetches[6:])
    assert all(timeout == pytest.approx(min(30.0, max(0.5, deadline - at)))
               for _, at, timeout in clock.fetches[6:])


def test_fetch_keeps_timeout_against_a_trickling_edge(tmp_path):
    """A body trickled byte by byte cannot stretch one fetch past ``timeout``."""
    (tmp_path / "a.css").write_bytes(b"x" * 1000)
    with FakeEdge(tmp_path) as edge:
        edge.trickle("/a.css", 0.05)
        started = time.monotonic()
        got = fetch(new_session(Network(), 1), edge.base_url + "a.css", 0.5)
        took = time.monotonic() - started
    assert got.status is None and "within 0.5 s (timeout)" in got.error, got
    assert took < 5, f"{took:.1f}s"  # a bound on a hang, not a timing
