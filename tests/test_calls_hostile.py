"""Calls count only when they really succeeded, and go to api-endpoint only.

Each test here is a way a 0.1.0 run went green (or hung) while doing the wrong thing:
a redirect that re-sent the signed body elsewhere or was counted as an accepted refresh,
a trickling server that stretched ``timeout``, an odd but real task ID taken for a bad
answer (and the accepted batch sent again), an error line that did not say why, a result
file that could not be written after the quota was spent, an interrupted wait that lost
its pending tasks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from jdcdn_action.console import printable
from tests.fake_jd import Fault
from tests.helpers import BASE, error_lines, interrupted_when
from tests.loopback import LoopbackHandler, LoopbackServer


class _TakeAnything(LoopbackHandler):
    fake: Elsewhere

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.fake.seen.append((self.command, self.path, self.rfile.read(length)))
        self._send(200, json.dumps({"status": 0, "msg": "ok", "taskid": "stolen"}))

    do_GET = do_POST = answer


class Elsewhere(LoopbackServer):
    """Another host on loopback that would accept anything: nothing may ever reach it."""

    handler = _TakeAnything
    address = "127.0.0.2"  # another host as far as URLs go, still loopback

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, bytes]] = []

    @property
    def url(self) -> str:
        return f"{self.endpoint}/api/refresh"


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    with Elsewhere() as host:
        yield host


def run_paths(run_cli, jd_env, paths: str = "a.css\nb.css", **extra: str):
    env = jd_env | {"JDCDN_PATHS": paths, "JDCDN_MAX_ATTEMPTS": "3"} | extra
    return run_cli(env=env, github=True)


# -- redirects -------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_permanent_failure_naming_its_host(
        run_cli, fake_jd, jd_env, elsewhere, code):
    fake_jd.script("/api/refresh", Fault("http", code=code,
                                         headers={"Location": elsewhere.url}))
    run = run_paths(run_cli, jd_env)

    assert run.code == 1, run.log
    assert elsewhere.seen == []  # the signed body went nowhere else
    assert len(fake_jd.requests()) == 1  # permanent: not retried
    assert run.json_output("task-ids") == []
    assert run.json_output("failed") == [BASE + "a.css", BASE + "b.css"]
    [error] = error_lines(run)
    assert f"HTTP {code}" in error and "redirected to 127.0.0.2" in error
    assert "check api-endpoint" in error


# -- timeout bounds a whole request ----------------------------------------------------------
def test_a_trickling_server_cannot_stretch_the_timeout(run_cli, fake_jd, jd_env):
    # 200 bytes, one every 0.1 s: each read is quick, the whole answer takes 20 s.
    fake_jd.script("/api/refresh", Fault("trickle", code=200, seconds=0.1))
    start = time.monotonic()
    run = run_paths(run_cli, jd_env, JDCDN_TIMEOUT="0.5", JDCDN_MAX_ATTEMPTS="1")
    wall = time.monotonic() - start

    assert run.code == 1, run.log
    assert wall < 5, f"the run took {wall:.1f}s with timeout 0.5"
    where = f"no answer from 127.0.0.1:{fake_jd.port} within 0.5 s (timeout)"
    assert where in run.report["batches"][0]["error"]
    [error] = error_lines(run)
    assert f"Cause: {where}" in error


def test_a_trickling_poll_cannot_stretch_wait_timeout(run_cli, fake_jd, jd_env):
    # Each poll's answer would take 20 s; a request is given what is left of wait-timeout.
    fake_jd.script("/api/refreshQuery", *[Fault("trickle", code=200, seconds=0.1)] * 5)
    start = time.monotonic()
    run = run_paths(run_cli, jd_env, JDCDN_WAIT="true", JDCDN_WAIT_TIMEOUT="1",
                    JDCDN_POLL_INTERVAL="0.2", JDCDN_TIMEOUT="30")
    wall = time.monotonic() - start

    assert run.code == 0, run.log  # still running at wait-timeout is a warning
    assert wall < 6, f"waiting took {wall:.1f}s with wait-timeout 1"
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")


# -- task IDs --------------------------------------------------------------------------------
# (task ID, the task-id output): ordinary IDs as they are; an ID that a later step's
# `echo ${{ steps.x.outputs.task-id }}` would turn into a workflow command in its printed
# form, every character that would start one as \uXXXX.
ODD_IDS = [("2024/11/28:Zm9v+YmFy=", "2024/11/28:Zm9v+YmFy="),
           ("id with spaces, and a comma", "id with spaces, and a comma"),
           ("x\n::error::injected", "x\\u000a::error::injected"),
           ("x\r\n::warning::crlf", "x\\u000d\\u000a::warning::crlf"),
           ("50%25 ##[warning]done", "50%25 ##\\u005bwarning]done"),
           ("::error::at the start", "\\u003a:error::at the start"),
           ("  ::notice::indented", "  \\u003a:notice::indented"),
           ("a::b::c", "a::b::c"),
           ("任务-1", "任务-1")]


@pytest.mark.parametrize("task_id, output", ODD_IDS)
def test_any_task_id_is_accepted_once_and_printed_harmlessly(
        run_cli, fake_jd, jd_env, task_id, output):
    fake_jd.task_id_factory = lambda: task_id
    run = run_paths(run_cli, jd_env, JDCDN_DOTENV="ids.env")

    assert run.code == 0, run.log
    assert len(fake_jd.requests()) == 1  # accepted once, never sent again
    assert run.json_output("task-ids") == [task_id]
    assert run.outputs["task-id"] == output
    for name, value in run.outputs.items():  # no output, echoed, is a workflow command
        for line in value.splitlines():
            assert not line.lstrip().startswith("::") and "##[" not in line, (name, line)
    assert run.report["task_ids"] == [task_id]
    for line in run.stdout.splitlines():  # the ID never acts as a workflow command
        assert not line.startswith("::error"), line
        assert "##[" not in line
    # printed whole, on one line ("##[" broken up, as in every line the log prints)
    assert printable(task_id).replace("##[", "#\u200b#[") in run.stdout
    # dotenv: one line per variable, the ID recoverable, nothing injected
    assert set(run.dotenv) >= {"JDCDN_TASK_IDS", "JDCDN_TASK_ID"}
    assert "\n" not in run.dotenv["JDCDN_TASK_ID"] and "," not in run.dotenv["JDCDN_TASK_ID"]
    from urllib.parse import unquote

    assert unquote(run.dotenv["JDCDN_TASK_ID"]) == task_id


def test_a_task_id_longer_than_256_characters_is_no_task_id(run_cli, fake_jd, jd_env):
    fake_jd.task_id_factory = lambda: "t" * 257
    run = run_paths(run_cli, jd_env)
    assert run.code == 1
    assert run.json_output("task-ids") == []


# -- the final error says why ----------------------------------------------------------------
def test_wrong_secret_says_why_in_the_final_error(run_cli, fake_jd, jd_env):
    run = run_paths(run_cli, jd_env | {"JDCDN_SECRET_KEY": "wrong-secret-0123456789"})

    assert run.code == 1
    final = error_lines(run)[-1]
    assert "2 of 2 URLs were not refreshed" in final
    assert "JD status 7: JD rejected the signature: check username, secret-key and " \
        "signature-timezone" in final


def test_several_causes_name_the_commonest_and_its_count(run_cli, fake_jd, jd_env):
    paths = "\n".join(f"f{i:03d}.css" for i in range(300))  # 3 batches
    fake_jd.script("/api/refresh", Fault("jd", status=15), Fault("jd", status=15),
                   Fault("http", code=400))
    run = run_paths(run_cli, jd_env, paths, JDCDN_CONCURRENCY="1")

    assert run.code == 1
    final = error_lines(run)[-1]
    assert "300 of 300 URLs were not refreshed" in final
    assert "Commonest cause (2 of 3 failed calls): JD status 15: the domain is not on " \
        "this JD account" in final
    assert "1 other cause in the log" in final


# -- result files are checked before the first call ------------------------------------------
@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY",
                                      "JDCDN_REPORT_FILE", "JDCDN_DOTENV"])
def test_an_unwritable_result_file_is_exit_2_before_anything_is_sent(
        run_cli, fake_jd, jd_env, tmp_path, variable):
    missing = tmp_path / "no-such-folder" / "file"
    if variable == "JDCDN_REPORT_FILE":  # its folder is made: use a file as the folder
        (tmp_path / "a-file").write_text("")
        missing = tmp_path / "a-file" / "report.json"
    run = run_paths(run_cli, jd_env, **{variable: str(missing)})

    assert run.code == 2, run.log
    assert fake_jd.requests() == []
    [error] = error_lines(run)
    assert str(missing) in error and "nothing was sent" in error
    assert "internal error" not in run.log


# -- an interrupted wait keeps its pending tasks ---------------------------------------------
def test_an_interrupted_wait_reports_the_unfinished_tasks_as_pending(
        run_cli, fake_jd, jd_env):
    paths = "\n".join(f"f{i:03d}.css" for i in range(150))  # 2 tasks
    fake_jd.slow_instances[BASE + "f000.css"] = 100  # task 1 keeps running
    # Ctrl-C during the second round of polls, which asks about task 1 alone: the first
    # round's answers (task 2 finished) have been read by then.
    with interrupted_when(lambda: len(fake_jd.requests("/api/refreshQuery")) >= 3):
        run = run_paths(run_cli, jd_env, paths, JDCDN_WAIT="true", JDCDN_POLL_INTERVAL="0.2",
                        JDCDN_WAIT_TIMEOUT="30")

    assert run.code == 130, run.log
    task_ids = run.json_output("task-ids")
    assert len(task_ids) == 2
    assert run.json_output("pending-task-ids") == [task_ids[0]]  # task 2 was seen finished
    assert run.report["pending_task_ids"] == [task_ids[0]]
