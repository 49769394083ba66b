"""The command end to end against the fake JD server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from jdcdn_action.settings_table import SETTINGS
from tests.fake_jd import EchoFault, Fault
from tests.helpers import SECRET, USERNAME, secret_values, site_files


def assert_accounted(run, fake_jd) -> None:
    """Every planned URL is under exactly one task ID or in `failed`, never both."""
    report = run.report
    planned = set(json.loads(run.outputs["urls"]) + json.loads(run.outputs["dirs"])) \
        if run.outputs else {u for b in report["batches"] for u in b["instances"]}
    succeeded = [u for b in report["batches"] if b["outcome"] == "succeeded"
                 for u in b["instances"]]
    failed = report["failed"]["files"] + report["failed"]["dirs"]
    assert len(succeeded) == len(set(succeeded))
    assert set(succeeded).isdisjoint(failed)
    assert set(succeeded) | set(failed) == planned
    assert set(succeeded) == fake_jd.refreshed()
    if run.outputs:
        assert json.loads(run.outputs["failed"]) == failed
        assert json.loads(run.outputs["task-ids"]) == report["task_ids"]


@pytest.mark.parametrize("count, sizes", [
    (1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50]),
])
def test_files_are_batched_and_signed(run_cli, fake_jd, jd_env, count, sizes):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": site_files(count)}, github=True)
    assert run.code == 0, run.log
    calls = fake_jd.accepted()
    assert sorted(len(c.body["instances"]) for c in calls) == sorted(sizes)
    assert all(c.body["type"] == "file" for c in calls)
    assert len(fake_jd.requests()) == len(sizes)  # no retries were needed
    assert fake_jd.refreshed() == {
        f"https://www.example.com/assets/file-{i:04d}.js" for i in range(count)}
    task_ids = run.json_output("task-ids")
    assert len(task_ids) == len(sizes) and run.outputs["task-id"] == task_ids[0]
    assert run.outputs["url-count"] == str(count)
    assert run.outputs["batch-count"] == str(len(sizes))
    assert run.json_output("failed") == []
    assert_accounted(run, fake_jd)


def test_seven_directories_make_two_dir_calls(run_cli, fake_jd, jd_env):
    dirs = "\n".join(f"section-{i}/" for i in range(7))
    run = run_cli(env=jd_env | {"JDCDN_PATHS": dirs}, github=True)
    assert run.code == 0, run.log
    calls = fake_jd.accepted()
    assert [(c.body["type"], len(c.body["instances"])) for c in calls] in (
        [("dir", 5), ("dir", 2)], [("dir", 2), ("dir", 5)])
    assert run.outputs["dir-count"] == "7" and run.outputs["url-count"] == "0"
    assert all(u.endswith("/") for u in fake_jd.refreshed("dir"))


def test_several_base_urls_with_prefixes(run_cli, fake_jd, jd_env):
    env = jd_env | {
        "JDCDN_BASE_URL": "https://www.example.com/\nhttps://cdn.example.com/static",
        "JDCDN_PATHS": "docs/index.html\n中文 名.css",
    }
    run = run_cli(env=env)
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == {
        "https://www.example.com/docs/index.html", "https://www.example.com/docs/",
        "https://cdn.example.com/static/docs/index.html", "https://cdn.example.com/static/docs/",
        "https://www.example.com/%E4%B8%AD%E6%96%87%20%E5%90%8D.css",
        "https://cdn.example.com/static/%E4%B8%AD%E6%96%87%20%E5%90%8D.css",
    }


def runner_env(fake_jd, **inputs: str) -> dict[str, str]:
    """INPUT_* exactly as the runner sets them: every input present, defaults filled in."""
    env = {setting.input_variable: setting.default for setting in SETTINGS}
    env |= {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    return env


def test_github_runner_contract(run_cli, fake_jd):
    env = runner_env(fake_jd, **{
        "username": USERNAME, "secret-key": SECRET, "api-endpoint": fake_jd.endpoint,
        "base-url": "https://www.example.com/", "paths": "- a.css\n- b/\n",
        "max-attempts": "3",
    })
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    # Masks come first, before any other line.
    lines = run.stdout.splitlines()
    masks = [i for i, line in enumerate(lines) if line.startswith("::add-mask::")]
    assert masks == list(range(len(masks))) and len(masks) >= 2
    assert f"::add-mask::{SECRET}" in lines
    assert set(run.outputs) == {
        "task-ids", "task-id", "urls", "dirs", "failed", "pending-task-ids",
        "prefetch-task-ids", "url-count", "dir-count", "batch-count", "report-file",
        "stale", "verified-count"}
    assert (run.outputs["stale"], run.outputs["verified-count"]) == ("[]", "0")  # no verify
    assert run.json_output("urls") == ["https://www.example.com/a.css"]
    assert run.json_output("dirs") == ["https://www.example.com/b/"]
    assert run.outputs["report-file"].endswith("runner_temp/jdcdn-report.json")
    assert run.report and run.report["task_ids"] == run.json_output("task-ids")
    assert "| 1 | file | 1 |" in run.summary and run.json_output("task-ids")[0] in run.summary
    assert_accounted(run, fake_jd)


def test_gitlab_dotenv(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": site_files(150)}, gitlab=True)
    assert run.code == 0, run.log
    ids = [c.answer["taskid"] for c in fake_jd.accepted()]
    assert run.dotenv["JDCDN_URL_COUNT"] == "150"
    assert run.dotenv["JDCDN_BATCH_COUNT"] == "2"
    assert run.dotenv["JDCDN_FAILED_COUNT"] == "0"
    assert sorted(run.dotenv["JDCDN_TASK_IDS"].split(",")) == sorted(ids)
    assert run.dotenv["JDCDN_TASK_ID"] == run.dotenv["JDCDN_TASK_IDS"].split(",")[0]
    assert "::" not in run.log  # no GitHub workflow commands outside GitHub


def test_subprocess_module_entry(run_cli, fake_jd, jd_env):
    run = run_cli(["--paths", "a.css", "--debug"], env=jd_env, subprocess_run=True)
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == {"https://www.example.com/a.css"}
    assert "debug:" in run.stderr


def test_dry_run_sends_nothing_and_sets_outputs(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": site_files(120), "JDCDN_DRY_RUN": "yes"},
                  github=True)
    assert run.code == 0 and not fake_jd.calls
    assert run.outputs["batch-count"] == "2" and run.json_output("task-ids") == []
    assert "Dry run" in run.stdout and "file-0119.js" in run.stdout
    assert all(b["outcome"] == "planned" for b in run.report["batches"])


def test_dry_run_needs_no_credentials(run_cli):
    run = run_cli(["--dry-run", "--base-url", "https://www.example.com/", "x.css"])
    assert run.code == 0, run.log


def test_nothing_to_refresh_is_success(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env, github=True)
    assert run.code == 0 and not fake_jd.calls
    assert "Nothing to refresh" in run.stdout
    assert run.json_output("urls") == [] and run.json_output("task-ids") == []
    assert run.outputs["task-id"] == "" and run.outputs["batch-count"] == "0"


def test_fail_on_error_false_reports_but_exits_zero(run_cli, fake_jd, jd_env):
    fake_jd.script("/api/refresh", Fault("jd", status=17))
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css", "JDCDN_FAIL_ON_ERROR": "false"},
                  github=True)
    assert run.code == 0
    assert run.json_output("failed") == ["https://www.example.com/a.css"]
    assert run.report["ok"] is False


def test_wrong_key_stops_sending_after_first_rejection(run_cli, fake_jd, jd_env):
    env = jd_env | {"JDCDN_SECRET_KEY": "wrong-key-value", "JDCDN_PATHS": site_files(450),
                    "JDCDN_CONCURRENCY": "1"}
    run = run_cli(env=env, github=True)
    assert run.code == 1
    # one call, plus at most one retry with the UTC date; the other 4 batches never sent
    assert 1 <= len(fake_jd.requests()) <= 2
    assert len(run.json_output("failed")) == 450
    assert "check username, secret-key and signature-timezone" in run.stdout
    assert "wrong-key-value" not in run.stdout.replace("::add-mask::wrong-key-value", "")


def test_secrets_never_leak_even_in_debug(run_cli, fake_jd, jd_env):
    """The API echoes the signature it was sent (after a 500, so that debug shows two
    answers): run_cli finds it in no channel, and each channel shows the mask instead."""
    fake_jd.script("/api/refresh", Fault("http", code=500), EchoFault(status=7),
                   EchoFault(status=7))
    env = jd_env | {"JDCDN_PATHS": "a.css", "RUNNER_DEBUG": "1"}
    run = run_cli(["--debug"], env=env, github=True)
    sent = {call.body["signature"] for call in fake_jd.calls}
    assert sent and sent <= set(secret_values())  # what was sent is what run_cli looked for
    assert run.code == 1
    echoed = "signature *** does not match for user jcloud_test"
    assert echoed in run.report["batches"][0]["error"]
    assert echoed in run.summary
    assert any(line.startswith("::debug::") and echoed in line
               for line in run.stdout.splitlines())


def test_outputs_over_githubs_limit_are_warned(run_cli, fake_jd, jd_env):
    paths = "\n".join(f"a-rather-long-folder-name/for-many-files/file-{i:05d}.html"
                      for i in range(15000))
    run = run_cli(env=jd_env | {"JDCDN_PATHS": paths, "JDCDN_MAX_URLS": "0",
                                "JDCDN_INDEX_FILES": "", "JDCDN_DRY_RUN": "true"},
                  github=True, gitlab=True)
    assert run.code == 0
    assert "::warning title=outputs too large::" in run.stdout
    assert len(run.json_output("urls")) == 15000  # written whole all the same
    assert "::warning title=dotenv too large::" not in run.stdout  # no task IDs in a dry run
