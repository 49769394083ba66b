"""``wait`` end to end: the command against the fake server, polling every 0.05 s."""

from __future__ import annotations

import pytest

from tests.fake_jd import Fault
from tests.helpers import url

FAST = {"JDCDN_WAIT": "true", "JDCDN_POLL_INTERVAL": "0.05", "JDCDN_WAIT_TIMEOUT": "30"}


def files(n: int, folder: str = "assets") -> str:
    return "\n".join(f"{folder}/f{i:03d}.js" for i in range(n))


def test_all_tasks_succeed(run_cli, fake_jd, jd_env):
    fake_jd.task_script["refresh"] = (2, 0)
    run = run_cli(env=jd_env | FAST | {"JDCDN_PATHS": files(150) + "\nimg/"}, github=True)
    assert run.code == 0, run.log
    task_ids = run.json_output("task-ids")
    assert len(task_ids) == 3
    assert run.json_output("pending-task-ids") == [] and run.json_output("failed") == []
    assert [(t["task_id"], t["kind"], t["state"]) for t in run.report["tasks"]] == [
        (t, "refresh", "succeeded") for t in task_ids]
    polls = fake_jd.requests("/api/refreshQuery")
    assert sorted(c.body["taskid"] for c in polls) == sorted(task_ids * 3)
    assert all(c.answer["status"] == 0 for c in polls)  # signed like the calls
    assert run.stdout.count("succeeded after") == 3
    assert "Refresh tasks: 3 succeeded." in run.stdout
    assert "## JD Cloud CDN: Refresh finished" in run.summary
    assert run.summary.count("succeeded, task succeeded") == 3
    assert not fake_jd.requests("/api/prefetch")


@pytest.mark.parametrize("fail_on_error, code", [("true", 1), ("false", 0)])
def test_a_failed_task_fails_its_urls(run_cli, fake_jd, jd_env, fail_on_error, code):
    fake_jd.task_script["refresh"] = (1, 0)
    fake_jd.fail_instances.add(url("b/f000.js"))
    env = jd_env | FAST | {"JDCDN_PATHS": files(100, "a") + "\n" + files(30, "b"),
                           "JDCDN_FAIL_ON_ERROR": fail_on_error}
    run = run_cli(env=env, github=True, gitlab=True)
    assert run.code == code, run.log
    # Both calls were accepted; the second task failed, so its 30 URLs are failed.
    assert len(run.json_output("task-ids")) == 2
    assert run.json_output("failed") == [url(f"b/f{i:03d}.js") for i in range(30)]
    assert run.report["failed"] == {"files": run.json_output("failed"), "dirs": []}
    assert sorted(t["state"] for t in run.report["tasks"]) == ["failed", "succeeded"]
    assert run.dotenv["JDCDN_FAILED_COUNT"] == "30"
    assert "30 of 130 URLs were not refreshed" in run.log
    assert "task failed" in run.summary and "Refresh failed for 30 of 130 URLs" in run.summary


def test_timeout_reports_pending_tasks_and_exits_0(run_cli, fake_jd, jd_env):
    fake_jd.slow_instances[url("b/f000.js")] = 10**6  # this task never finishes
    env = jd_env | FAST | {"JDCDN_PATHS": files(100, "a") + "\n" + files(5, "b"),
                           "JDCDN_WAIT_TIMEOUT": "0.3"}
    run = run_cli(env=env, github=True, gitlab=True)
    assert run.code == 0, run.log
    slow = fake_jd.task_of(url("b/f000.js")).task_id
    assert run.json_output("pending-task-ids") == [slow]
    assert run.json_output("failed") == []
    assert run.dotenv["JDCDN_PENDING_TASK_IDS"] == slow
    assert "::warning title=jdcdn-action stopped waiting::wait-timeout ran out" in run.stdout
    assert "1 refresh task still running: " + slow in run.stdout
    assert run.report["pending_task_ids"] == [slow]
    assert "Refresh submitted, 1 task still running" in run.summary and slow in run.summary


def test_dead_api_while_waiting_is_pending_with_a_warning(run_cli, fake_jd, jd_env):
    fake_jd.task_script["refresh"] = (1000, 0)
    fake_jd.die_after = 1  # the refresh call is answered, every poll is not
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css", "JDCDN_MAX_ATTEMPTS": "2"}
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    task_id = run.json_output("task-ids")[0]
    assert run.json_output("pending-task-ids") == [task_id]
    assert run.report["tasks"][0]["state"] == "unknown"
    assert "state unknown" in run.stdout and "reported as pending" in run.stdout
    assert "Refresh tasks: 1 unknown." in run.stdout


def test_signature_trouble_while_waiting_is_not_a_success(run_cli, fake_jd, jd_env):
    fake_jd.script("/api/refreshQuery", Fault("jd", status=7))
    run = run_cli(env=jd_env | FAST | {"JDCDN_PATHS": "a.css"}, github=True)
    assert run.code == 0, run.log
    assert run.report["tasks"][0]["state"] == "unknown"
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")


def test_no_wait_no_polls(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css"}, github=True)
    assert run.code == 0 and not fake_jd.requests("/api/refreshQuery")
    assert run.report["tasks"] == [] and run.json_output("pending-task-ids") == []


def test_dry_run_skips_waiting_and_says_so(run_cli, fake_jd, jd_env):
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css", "JDCDN_DRY_RUN": "true",
                           "JDCDN_PREFETCH": "true"}
    run = run_cli(env=env, github=True)
    assert run.code == 0 and not fake_jd.calls
    assert "Dry run: wait and prefetch skipped" in run.stdout
    assert "wait and prefetch skipped" in run.summary


def test_every_call_failed_nothing_to_wait_for(run_cli, fake_jd, jd_env):
    fake_jd.script("/api/refresh", Fault("jd", status=15))
    run = run_cli(env=jd_env | FAST | {"JDCDN_PATHS": "a.css"})
    assert run.code == 1
    assert not fake_jd.requests("/api/refreshQuery") and run.report["tasks"] == []


def test_a_hanging_poll_cannot_outlast_wait_timeout(run_cli, fake_jd, jd_env):
    """The request timeout (30 s here) is cut to what is left of wait-timeout."""
    import time

    fake_jd.task_script["refresh"] = (100, 0)
    fake_jd.script("/api/refreshQuery", *[Fault("sleep", seconds=8)] * 5)
    env = jd_env | FAST | {"JDCDN_PATHS": "a.css", "JDCDN_WAIT_TIMEOUT": "0.5",
                           "JDCDN_TIMEOUT": "30"}
    start = time.monotonic()
    run = run_cli(env=env, github=True)
    wall = time.monotonic() - start
    assert run.code == 0, run.log
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")
    assert wall < 6  # 0.5 s of waiting plus the last request's minimum 0.5 s, not 30 s
