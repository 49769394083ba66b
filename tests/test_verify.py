"""``verify`` end to end: the command refreshes through a fake JD API, then fetches every
URL from a fake CDN edge on 127.0.0.1 that serves the site folder, scripted per path to
keep serving old copies, to answer 404, or to redirect. The edge records every request's
headers: no credential, signature or JD header may reach it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from jdcdn_action import __version__
from tests.fake_edge import FakeEdge
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Repo
from tests.helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRET, USERNAME

SITE = {"index.html": b"<h1>home</h1>\n", "css/site.css": b"body { margin: 0 }\n",
        "docs/index.html": b"<h1>docs</h1>\n", "img/logo.png": bytes(range(256)) * 64,
        "caf\u00e9/men\u00fc.html": b"menu\n"}
PATHS = "index.html\ncss/site.css\ndocs/index.html\nimg/logo.png\ncaf\u00e9/men\u00fc.html"
ALLOWED_HEADERS = {"host", "user-agent", "accept-encoding", "accept", "connection"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "public"
    for name, content in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


@pytest.fixture
def edge(site: Path):
    with FakeEdge(site, gzip=True) as server:
        yield server


@pytest.fixture
def jd():
    with FakeJd(username=USERNAME, secret=SECRET, domains=("127.0.0.1",)) as server:
        yield server


@pytest.fixture
def env(jd: FakeJd, edge: FakeEdge, site: Path) -> dict[str, str]:
    return {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET,
            "JDCDN_API_ENDPOINT": jd.endpoint, "JDCDN_BASE_URL": edge.base_url,
            "JDCDN_SOURCE_DIR": str(site), "JDCDN_PATHS": PATHS, "JDCDN_VERIFY": "true",
            "JDCDN_VERIFY_TIMEOUT": "30", "JDCDN_TIMEOUT": "5"}


def url(edge: FakeEdge, path: str) -> str:
    return edge.base_url + path


def entries(run) -> dict[str, dict]:
    return {entry["url"]: entry for entry in run.report["verify"]["urls"]}


def assert_plain_gets(edge: FakeEdge) -> None:
    """Every request the edge saw: a GET with our User-Agent and nothing of the run's."""
    assert edge.requests()
    for seen in edge.requests():
        assert {name.lower() for name in seen.headers} <= ALLOWED_HEADERS, seen.headers
        assert seen.headers["User-Agent"] == f"jdcdn-action/{__version__}"
        assert not any(SECRET in value or ACCESS_KEY_SECRET in value
                       for value in seen.headers.values())


def test_stale_urls_are_fetched_again_until_fresh(run_cli, edge, env):
    edge.stale("/css/site.css", b"body { margin: 8px }\n", times=3)
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    checked = [url(edge, p) for p in ("", "caf%C3%A9/men%C3%BC.html", "css/site.css",
                                      "docs/", "docs/index.html", "img/logo.png",
                                      "index.html")]
    assert run.json_output("stale") == []
    assert run.outputs["verified-count"] == "7"
    report = entries(run)
    assert sorted(report) == checked
    css = report[url(edge, "css/site.css")]
    assert (css["outcome"], css["attempts"], css["last_status"]) == ("fresh", 4, 200)
    assert css["expected_sha256"] == css["last_sha256"]
    assert css["local_file"] == str(edge.site / "css" / "site.css")
    assert css["headers"]["X-Cache"] == "MISS from fake-edge" and "ETag" in css["headers"]
    assert {"Age", "Cache-Status", "Via", "Last-Modified"} <= set(css["headers"])
    assert len(edge.requests("/css/site.css")) == 4
    assert len(edge.requests("/img/logo.png")) == 1  # fresh URLs are not fetched again
    assert run.report["verify"]["counts"] == {"fresh": 7, "stale": 0, "unchecked": 0}
    assert "| 7 | 0 | 0 |" in run.summary
    assert "7 URLs verified fresh on the CDN" in run.stdout
    assert_plain_gets(edge)


@pytest.mark.parametrize("fail_on_error, code", [("true", 1), ("false", 0)])
def test_a_url_stale_for_ever_fails_within_verify_timeout(run_cli, edge, env, fail_on_error,
                                                          code):
    edge.stale("/css/site.css", b"old\n")
    started = time.monotonic()
    run = run_cli(env=env | {"JDCDN_VERIFY_TIMEOUT": "0.6", "JDCDN_BACKOFF": "0.1",
                             "JDCDN_FAIL_ON_ERROR": fail_on_error}, github=True, gitlab=True)
    took = time.monotonic() - started
    assert run.code == code, run.log
    assert took < 0.6 + 4, took
    stale = url(edge, "css/site.css")
    assert run.json_output("stale") == [stale]
    assert run.outputs["verified-count"] == "6"
    assert (run.dotenv["JDCDN_STALE_COUNT"], run.dotenv["JDCDN_VERIFIED_COUNT"]) == ("1", "6")
    assert run.json_output("failed") == []  # the refresh itself was accepted
    entry = entries(run)[stale]
    assert entry["outcome"] == "stale" and entry["attempts"] > 2
    assert entry["headers"]["X-Cache"] == "HIT from fake-edge"
    level = "::error" if code else "::warning"
    last = [line for line in run.log.splitlines() if line.startswith(level)][-1]
    assert last.startswith(f"{level} title=jdcdn-action verify failed::1 of 7 checked URLs was "
                           "still stale when verify-timeout (0.6s) ran out")
    assert f"first {stale}: the body differs from the local file" in last
    assert run.report["ok"] is False
    assert "1 URL still stale on the CDN after the refresh" in run.summary
    assert f"`{stale}`: the body differs from the local file" in run.summary


def test_a_folder_url_is_compared_with_its_index_file(run_cli, edge, env, site):
    (site / "docs" / "index.htm").write_bytes(b"other\n")
    edge.stale("/docs/", b"<h1>old docs</h1>\n")
    run = run_cli(env=env | {"JDCDN_PATHS": "docs/index.html\n.",
                             "JDCDN_INDEX_FILES": "index.htm\nindex.html",
                             "JDCDN_VERIFY_TIMEOUT": "0.3"}, github=True)
    assert run.code == 1, run.log
    report = entries(run)
    # docs/ is served (in the edge's terms) by docs/index.html; with index.htm first in
    # index-files, that is the copy the folder URL is compared with, so it is stale.
    folder = report[url(edge, "docs/")]
    assert folder["local_file"] == str(site / "docs" / "index.htm")
    assert folder["outcome"] == "stale"
    assert report[url(edge, "docs/index.html")]["outcome"] == "fresh"
    # "." is the base URL itself: its folder's index file (index.html, the only one).
    home = report[edge.base_url]
    assert home["local_file"] == str(site / "index.html") and home["outcome"] == "fresh"


def test_what_cannot_be_checked_is_counted_and_listed_not_fetched(run_cli, edge, env):
    absolute = url(edge, "api/version")
    paths = f"index.html\nimg/\nmissing.html\n{absolute}"
    run = run_cli(env=env | {"JDCDN_PATHS": paths}, github=True)
    assert run.code == 0, run.log
    report = entries(run)
    assert report[url(edge, "img/")]["detail"].startswith("a directory")
    assert report[absolute]["detail"] == "written as an absolute URL: its local copy is unknown"
    assert report[url(edge, "missing.html")]["detail"] == \
        f"no local file {edge.site / 'missing.html'}"
    assert {report[u]["outcome"] for u in (url(edge, "img/"), absolute,
                                           url(edge, "missing.html"))} == {"unchecked"}
    assert run.report["verify"]["counts"] == {"fresh": 2, "stale": 0, "unchecked": 3}
    assert {s.path for s in edge.requests()} == {"/", "/index.html"}
    assert "| 2 | 0 | 3 |" in run.summary
    assert "Verifying 2 URLs against the CDN (3 unchecked)" in run.stdout


def test_a_redirect_is_stale_and_not_followed(run_cli, edge, env, tmp_path):
    with FakeEdge(tmp_path) as elsewhere:
        target = f"http://localhost:{elsewhere.port}/css/site.css"
        edge.redirect("/css/site.css", target)
        run = run_cli(env=env | {"JDCDN_VERIFY_TIMEOUT": "0.2"}, github=True)
        assert run.code == 1, run.log
        assert elsewhere.requests() == []
    entry = entries(run)[url(edge, "css/site.css")]
    assert entry["outcome"] == "stale" and entry["last_status"] == 301
    assert entry["detail"] == "HTTP 301: redirected to localhost; redirects are not followed"
    assert entry["location"] == target
    assert "redirected to localhost" in run.log.splitlines()[-1]


def test_a_dry_run_fetches_nothing(run_cli, edge, env, jd):
    run = run_cli(env=env | {"JDCDN_DRY_RUN": "true"}, github=True, gitlab=True)
    assert run.code == 0, run.log
    assert edge.requests() == [] and jd.calls == []
    assert "Dry run: verify skipped (nothing was sent)." in run.stdout
    assert run.report["verify"] is None
    assert (run.outputs["stale"], run.outputs["verified-count"]) == ("[]", "0")
    assert "JDCDN_STALE_COUNT" not in run.dotenv


def test_urls_whose_refresh_failed_are_not_fetched(run_cli, edge, env, jd):
    from tests.fake_jd import Fault

    jd.script("/api/refresh", Fault("jd", status=15))  # the file batch: failed for good
    run = run_cli(env=env | {"JDCDN_PATHS": "index.html\nimg/", "JDCDN_CONCURRENCY": "1"},
                  github=True)
    assert run.code == 1, run.log
    assert {e["outcome"] for e in run.report["verify"]["urls"]} == {"unchecked"}
    assert edge.requests() == []
    assert run.outputs["verified-count"] == "0"


def test_a_missing_source_dir_is_exit_2_before_anything_is_sent(run_cli, env, jd, tmp_path):
    run = run_cli(env=env | {"JDCDN_SOURCE_DIR": str(tmp_path / "dist")})
    assert run.code == 2, run.log
    assert jd.calls == []
    assert "source-dir: " in run.stderr and "verify reads the local copy" in run.stderr


def test_a_file_git_saw_deleted_must_be_gone(run_cli, edge, env, tmp_path):
    home = tmp_path / "git-home"
    home.mkdir()
    repo = Repo.init(tmp_path / "repo", home)
    base = repo.commit("site", **{"public/a.html": "a\n", "public/old.html": "old\n",
                                  "public/gone.html": "gone\n", "README.md": "x\n"})
    repo.remove("public/old.html")
    repo.remove("public/gone.html")
    repo.commit("delete two, change one", **{"public/a.html": "a v2\n"})
    # The edge serves the checkout's public folder: gone.html 404s, old.html is still
    # cached there.
    edge.site = repo.path / "public"
    edge.stale("/old.html", b"old\n")
    run = run_cli(env=env | {"JDCDN_PATHS": "", "JDCDN_GIT_DIFF": "true", "JDCDN_GIT_BASE": base,
                             "JDCDN_SOURCE_DIR": "public", "JDCDN_VERIFY_TIMEOUT": "0.3"},
                  github=True, cwd=repo.path)
    assert run.code == 1, run.log
    report = entries(run)
    assert report[url(edge, "a.html")]["outcome"] == "fresh"
    gone = report[url(edge, "gone.html")]
    assert (gone["outcome"], gone["last_status"], gone["expected"]) == ("fresh", 404,
                                                                         "404 or 410")
    old = report[url(edge, "old.html")]
    assert old["outcome"] == "stale" and old["detail"] == (
        "HTTP 200: still served, though git saw the file deleted (expected 404 or 410)")
    assert run.json_output("stale") == [url(edge, "old.html")]


def test_with_wait_the_fetches_start_after_the_tasks_finished(run_cli, edge, site):
    with FakeOpenApi(ACCESS_KEY_ID, ACCESS_KEY_SECRET, domains=("127.0.0.1",)) as api:
        api.task_script["url"] = (3, "success")
        env = {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
               "JDCDN_API_ENDPOINT": api.endpoint, "JDCDN_BASE_URL": edge.base_url,
               "JDCDN_SOURCE_DIR": str(site), "JDCDN_PATHS": PATHS, "JDCDN_VERIFY": "true",
               "JDCDN_WAIT": "true", "JDCDN_POLL_INTERVAL": "0.05"}
        run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    assert [t["state"] for t in run.report["tasks"]] == ["succeeded"]
    polls = api.requests("/v1/task:queryByIds")
    assert len(polls) > 1 and polls[-1].answer["result"]["tasks"][0]["taskStatus"] == \
        "success"
    assert min(s.at for s in edge.requests()) > polls[-1].at
    assert run.outputs["verified-count"] == "7"
    assert_plain_gets(edge)


def test_the_command_line_sends_no_netrc_credential(run_cli, edge, env, tmp_path):
    """In a process of its own, with a ~/.netrc that names the edge's host."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine 127.0.0.1 login ci password netrc-s3cret\n")
    (home / ".netrc").chmod(0o600)
    run = run_cli(env=env | {"HOME": str(home), "JDCDN_PATHS": "index.html"},
                  subprocess_run=True)
    assert run.code == 0, run.log
    assert_plain_gets(edge)


def test_an_interrupted_verify_reports_what_it_had_not_confirmed(run_cli, edge, env):
    edge.stale("/css/site.css", b"old\n")

    def interrupt_on_the_third_fetch(seen) -> None:
        if len(edge.requests("/css/site.css")) == 3:
            signal.raise_signal(signal.SIGINT)

    edge.on_request = interrupt_on_the_third_fetch
    started = time.monotonic()
    run = run_cli(env=env | {"JDCDN_VERIFY_TIMEOUT": "60"}, github=True)
    assert run.code == 130, run.log
    assert time.monotonic() - started < 30
    assert run.json_output("stale") == [url(edge, "css/site.css")]
    assert run.outputs["verified-count"] == "6"
    assert "The run was interrupted while verifying." in run.report["notes"]
    assert run.report["verify"]["counts"] == {"fresh": 6, "stale": 1, "unchecked": 0}
