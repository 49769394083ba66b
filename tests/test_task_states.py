"""OpenAPI task states: what JD's task queries say is believed only as far as it goes.

A task is finished only when its ``taskStatus`` says so; its ``urlTasks`` are matched to
the URLs sent whatever their spelling; a URL sent that a finished task does not list is not
confirmed. Unit tests of the reading and the matching, then the command end to end against
the fake OpenAPI gateway answering as JD may.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from jdcdn_action.api import TaskStatus
from jdcdn_action.api.openapi import _task_states
from jdcdn_action.batches import Batch
from jdcdn_action.results import NO_STATE, BatchResult, RunResult, TaskState, settle
from jdcdn_action.urls import UrlPlan, url_key
from tests.helpers import BASE, run_openapi

SENT = BASE + "%E6%96%87%E6%A1%A3/%E8%AF%B4%E6%98%8E.html"  # 文档/说明.html as sent


def task(status: str, *url_tasks: tuple[str, str], task_id: str = "t1") -> dict:
    return {"taskId": task_id, "taskStatus": status,
            "urlTasks": [{"url": url, "status": state} for url, state in url_tasks]}


# -- reading queryByIds ----------------------------------------------------------------------
@pytest.mark.parametrize("url_tasks", [
    [(BASE + "a.css", "success")],  # one of three listed, succeeded
    [(BASE + "a.css", "success"), (BASE + "b.css", "success"), (BASE + "c.css", "success")],
    [(BASE + "a.css", "failed")],
    [],
])
def test_a_running_task_is_running_whatever_its_url_tasks(url_tasks):
    states = _task_states({"tasks": [task("running", *url_tasks)]})
    assert states == {"t1": TaskStatus("running")}


@pytest.mark.parametrize("status, state", [("success", "succeeded"), ("failed", "failed"),
                                           ("SUCCESS", "succeeded")])
def test_a_finished_task_without_url_tasks_stands_for_all(status, state):
    assert _task_states({"tasks": [task(status)]}) == {"t1": TaskStatus(state)}


def test_a_finished_task_lists_its_urls_by_their_own_state():
    answer = task("failed", (BASE + "a.css", "success"), (BASE + "b.css", "failed"),
                  (BASE + "c.css", "running"), (BASE + "d.css", "odd"))
    assert _task_states({"tasks": [answer]}) == {"t1": TaskStatus(
        "failed", "", (BASE + "b.css",), (BASE + "a.css",))}


@pytest.mark.parametrize("odd", [{"urlTasks": "a.css"}, {"urlTasks": {"url": "a"}},
                                 {"taskStatus": "done"}, {"taskStatus": None}])
def test_an_odd_task_is_asked_again(odd):
    assert _task_states({"tasks": [task("success", (BASE, "success")) | odd]}) is None


# -- matching the URLs sent ------------------------------------------------------------------
@pytest.mark.parametrize("listed", [
    BASE + "文档/说明.html",  # decoded
    SENT.lower(),  # lower-case escapes
    "HTTPS://WWW.EXAMPLE.COM/%E6%96%87%E6%A1%A3/%E8%AF%B4%E6%98%8E.html",  # host case
    " " + SENT + " ",
])
def test_url_key_matches_another_spelling_of_the_same_url(listed):
    assert url_key(listed) == url_key(SENT)


@pytest.mark.parametrize("a, b", [
    (BASE + "a%2Fb", BASE + "a/b"),  # an encoded slash is another path
    (BASE + "a%3Fb", BASE + "a?b"),
    (BASE + "a.css", BASE + "A.css"),  # the path keeps its case
    (BASE + "a.css", "https://cdn.example.com/a.css"),
])
def test_url_key_keeps_different_urls_apart(a, b):
    assert url_key(a) != url_key(b)


def test_a_failed_url_in_another_spelling_fails_the_url_sent():
    sent = (SENT, BASE + "ok.css")
    status = TaskStatus("failed", "", (BASE + "文档/说明.html",), (BASE + "ok.css",))
    state = settle("t1", "refresh", status, sent)
    assert (state.state, state.failed_urls, state.unconfirmed_urls) == \
        ("failed", (SENT,), ())


def test_both_spellings_are_normalized():
    sent = (BASE + "%7euser/a%2fb.html",)  # an absolute URL entry keeps its escapes
    status = TaskStatus("failed", "", ("HTTPS://www.EXAMPLE.com/~user/a%2Fb.html",), ())
    assert settle("t1", "refresh", status, sent).failed_urls == sent


def test_a_failed_url_that_matches_nothing_fails_every_url_of_its_task():
    sent = (BASE + "a.css", BASE + "b.css")
    status = TaskStatus("failed", "", ("https://elsewhere.example.org/x\n::error::y",),
                        (BASE + "a.css", BASE + "b.css"))
    state = settle("t1", "refresh", status, sent)
    assert state.state == "failed" and state.failed_urls is None  # all of them
    assert "matches no URL sent" in state.detail and "\n" not in state.detail


def test_a_url_a_finished_task_does_not_list_is_unconfirmed():
    sent = (BASE + "a.css", BASE + "b.css", BASE + "c.css")
    status = TaskStatus("succeeded", "", (), (BASE + "a.css",))
    state = settle("t1", "refresh", status, sent)
    assert state.state == "failed"
    assert state.failed_urls == () and state.unconfirmed_urls == sent[1:]
    assert NO_STATE in state.detail


def test_a_task_that_lists_every_url_succeeded_is_a_success():
    sent = (SENT, BASE + "b.css")
    status = TaskStatus("succeeded", "", (), (BASE + "文档/说明.html", BASE + "b.css"))
    assert settle("t1", "refresh", status, sent) == TaskState("t1", "refresh", "succeeded",
                                                              "", (), ())


def test_unconfirmed_urls_are_failed_with_their_cause():
    urls = (BASE + "a.css", BASE + "b.css")
    result = RunResult(UrlPlan(urls, ()), [BatchResult(Batch(1, "file", urls), "succeeded",
                                                       task_id="t1")])
    result.tasks = [settle("t1", "refresh", TaskStatus("succeeded", "", (), (urls[0],)), urls)]
    assert result.failed == [urls[1]] and not result.ok
    [(cause, _n)] = result.failure_causes().items()
    assert NO_STATE in cause


# -- end to end --------------------------------------------------------------------------------
def waited(run_cli, openapi_env, paths: str, **extra: str):
    return run_openapi(run_cli, openapi_env, paths, JDCDN_WAIT="true",
                       JDCDN_POLL_INTERVAL="0.05", JDCDN_WAIT_TIMEOUT="20", **extra)


def test_a_failed_url_listed_decoded_is_in_failed(run_cli, fake_openapi, openapi_env):
    fake_openapi.url_spelling = unquote
    fake_openapi.fail_instances.add(SENT)
    run = waited(run_cli, openapi_env, "文档/说明.html\nok.css")

    assert fake_openapi.refreshed("url") == {SENT, BASE + "ok.css"}
    assert run.code == 1, run.log
    assert run.json_output("failed") == [SENT]
    assert run.report["tasks"][0]["failed_urls"] == [SENT]


def test_a_failed_url_matching_nothing_sent_fails_its_whole_task(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.url_spelling = lambda url: url.replace("www.example.com", "other.example.net")
    fake_openapi.fail_instances.add(BASE + "b.css")
    run = waited(run_cli, openapi_env, "a.css\nb.css\nc.css")

    assert run.code == 1, run.log
    assert run.json_output("failed") == [BASE + "a.css", BASE + "b.css", BASE + "c.css"]
    assert "matches no URL sent" in run.log


def test_a_running_task_with_partial_url_tasks_is_waited_for(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.list_running = False  # the first poll lists a.css only, as succeeded
    fake_openapi.slow_instances |= {BASE + "b.css": 2, BASE + "c.css": 2}
    fake_openapi.fail_instances.add(BASE + "c.css")
    run = waited(run_cli, openapi_env, "a.css\nb.css\nc.css")

    assert len(fake_openapi.requests("/v1/task:queryByIds")) == 3, run.log
    assert run.code == 1, run.log
    assert run.json_output("failed") == [BASE + "c.css"]
    assert "succeeded after" not in run.log


def test_a_running_task_is_pending_at_wait_timeout_not_succeeded(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.list_running = False
    fake_openapi.slow_instances |= {BASE + "b.css": 10_000}
    run = run_openapi(run_cli, openapi_env, "a.css\nb.css", JDCDN_WAIT="true",
                      JDCDN_POLL_INTERVAL="0.05", JDCDN_WAIT_TIMEOUT="0.3")

    assert run.code == 0, run.log  # still running at wait-timeout: a warning
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")
    assert run.report["tasks"][0]["state"] == "running"
    assert "succeeded after" not in run.log


def test_a_url_a_finished_task_leaves_out_is_failed_with_its_cause(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.unlisted_instances.add(BASE + "b.css")
    run = waited(run_cli, openapi_env, "a.css\nb.css\nd/")

    assert run.code == 1, run.log
    assert run.json_output("failed") == [BASE + "b.css"]
    [files_task, _dirs_task] = run.report["tasks"]
    assert files_task["unconfirmed_urls"] == [BASE + "b.css"]
    assert NO_STATE in files_task["detail"]
    assert NO_STATE in [line for line in run.log.splitlines()
                        if line.startswith("::error")][-1]
