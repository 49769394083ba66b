"""``prefetch``: warm the refreshed file URLs, 50 per call, only once their refresh succeeded."""

from __future__ import annotations

import pytest

from jdcdn_action.batches import Batch
from jdcdn_action.prefetch import plan_prefetch, warmable
from jdcdn_action.results import BatchResult, RunResult, TaskState
from jdcdn_action.urls import UrlPlan
from tests.fake_jd import Fault
from tests.helpers import url

FAST = {"JDCDN_PREFETCH": "true", "JDCDN_POLL_INTERVAL": "0.05", "JDCDN_WAIT_TIMEOUT": "30"}


def files(n: int, folder: str = "assets") -> list[str]:
    return [f"{folder}/f{i:03d}.js" for i in range(n)]


@pytest.mark.parametrize("count, sizes", [
    (0, []), (1, [1]), (50, [50]), (51, [50, 1]), (120, [50, 50, 20]),
])
def test_plan_prefetch_batches_of_50(count, sizes):
    urls = [url(p) for p in files(count)]
    batches = plan_prefetch(urls)
    assert [len(b.instances) for b in batches] == sizes
    assert [b.index for b in batches] == list(range(1, len(sizes) + 1))
    assert [u for b in batches for u in b.instances] == urls


def test_warmable_takes_only_succeeded_refresh_tasks():
    def done(index: int, kind: str, urls: tuple[str, ...], task: str) -> BatchResult:
        return BatchResult(Batch(index, kind, urls), "succeeded" if task else "failed", task)

    result = RunResult(
        plan=UrlPlan(files=(), dirs=()),
        batches=[done(1, "file", ("a", "b"), "t1"), done(2, "file", ("c",), "t2"),
                 done(3, "file", ("d",), "t3"), done(4, "file", ("e",), ""),
                 done(5, "dir", ("f/",), "t5")],
        tasks=[TaskState("t1", "refresh", "succeeded"), TaskState("t2", "refresh", "failed"),
               TaskState("t3", "refresh", "running"), TaskState("t5", "refresh", "succeeded")],
    )
    assert warmable(result) == (["a", "b"], ["c", "d", "e"])


def test_prefetch_batches_at_50_after_waiting_for_the_refresh(run_cli, fake_jd, jd_env):
    fake_jd.task_script["refresh"] = (1, 0)
    run = run_cli(env=jd_env | FAST | {"JDCDN_PATHS": "\n".join(files(120))}, github=True)
    assert run.code == 0, run.log
    sent = fake_jd.prefetched()
    assert sorted(len(urls) for urls in sent) == [20, 50, 50]
    assert sorted(u for urls in sent for u in urls) == sorted(fake_jd.refreshed())
    # Every refresh task was seen succeeded before the first prefetch call (wait is false).
    first_prefetch = fake_jd.requests("/api/prefetch")[0].at
    last_poll = max(c.at for c in fake_jd.requests("/api/refreshQuery"))
    assert last_poll < first_prefetch
    assert all(fake_jd.task_of(u).polls == 2 for u in (url("assets/f000.js"),
                                                       url("assets/f119.js")))
    assert not fake_jd.requests("/api/prefetchQuery")  # wait is false: not waited for
    ids = [c.answer["taskid"] for c in fake_jd.accepted("/api/prefetch")]
    assert sorted(run.json_output("prefetch-task-ids")) == sorted(ids)
    assert [b["type"] for b in run.report["prefetch_batches"]] == ["file"] * 3
    assert "Prefetching 120 file URLs in 3 calls." in run.stdout
    assert "Prefetch:" in run.summary and "Refresh finished, cache warmed" in run.summary


def test_prefetch_tasks_are_waited_for_with_wait(run_cli, fake_jd, jd_env):
    fake_jd.task_script["prefetch"] = (2, 0)
    env = jd_env | FAST | {"JDCDN_WAIT": "true", "JDCDN_PATHS": "\n".join(files(60))}
    run = run_cli(env=env, github=True, gitlab=True)
    assert run.code == 0, run.log
    prefetch_ids = run.json_output("prefetch-task-ids")
    assert len(prefetch_ids) == 2
    states = [(t["kind"], t["state"]) for t in run.report["tasks"]]
    assert states == [("refresh", "succeeded")] + [("prefetch", "succeeded")] * 2
    assert len(fake_jd.requests("/api/prefetchQuery")) == 6
    assert run.dotenv["JDCDN_PREFETCH_TASK_IDS"].split(",") == prefetch_ids
    assert "Prefetch tasks: 2 succeeded." in run.stdout


def test_failed_refresh_is_not_prefetched(run_cli, fake_jd, jd_env):
    fake_jd.fail_instances.add(url("b/f000.js"))
    paths = files(100, "a") + files(10, "b")
    run = run_cli(env=jd_env | FAST | {"JDCDN_PATHS": "\n".join(paths)}, github=True)
    assert run.code == 1, run.log
    prefetched = {u for urls in fake_jd.prefetched() for u in urls}
    assert prefetched == {url(p) for p in files(100, "a")}
    assert run.json_output("failed") == [url(p) for p in files(10, "b")]
    assert "prefetch: 10 file URLs are not prefetched because the refresh failed" \
        in run.stdout


def test_unfinished_refresh_is_not_prefetched(run_cli, fake_jd, jd_env):
    fake_jd.slow_instances[url("a.css")] = 10**6
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css", "JDCDN_WAIT_TIMEOUT": "0.2"}
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    assert not fake_jd.requests("/api/prefetch")
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")
    assert run.json_output("prefetch-task-ids") == []
    assert "prefetch: no refreshed file URL to warm." in run.stdout


def test_directories_are_not_prefetched_and_that_is_said_once(run_cli, fake_jd, jd_env):
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css\nimg/\nfonts/"}
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    assert fake_jd.prefetched() == [[url("a.css")]]
    assert run.stdout.count("directories are not prefetched") == 1
    assert "directories are not prefetched" in run.summary


@pytest.mark.parametrize("fail_on_error, code", [("true", 1), ("false", 0)])
def test_a_failed_prefetch_call_fails_the_run(run_cli, fake_jd, jd_env, fail_on_error, code):
    fake_jd.script("/api/prefetch", Fault("jd", status=18))
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css", "JDCDN_FAIL_ON_ERROR": fail_on_error}
    run = run_cli(env=env, github=True)
    assert run.code == code, run.log
    assert run.json_output("failed") == []  # the refresh itself went through
    assert run.json_output("prefetch-task-ids") == []
    assert run.report["prefetch_failed"] == [url("a.css")]
    assert "1 refreshed URL was not prefetched" in run.log
    assert "Prefetch failed for 1 URL" in run.summary


def test_a_failed_prefetch_task_fails_the_run(run_cli, fake_jd, jd_env):
    fake_jd.task_script["prefetch"] = (0, 2)
    env = jd_env | FAST | {"JDCDN_WAIT": "true", "JDCDN_PATHS": "a.css"}
    run = run_cli(env=env, github=True)
    assert run.code == 1, run.log
    assert run.report["prefetch_failed"] == [url("a.css")]
    assert [t["state"] for t in run.report["tasks"]] == ["succeeded", "failed"]


def test_prefetch_counts_against_max_urls(run_cli, fake_jd, jd_env):
    env = jd_env | FAST | {"JDCDN_PATHS": "\n".join(files(600)), "JDCDN_MAX_URLS": "1000"}
    run = run_cli(env=env)
    assert run.code == 2 and not fake_jd.calls
    assert "600 file URLs, 1200 with prefetch" in run.stderr
    assert "turn prefetch off" in run.stderr
