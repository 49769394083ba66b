"""The command with OpenAPI keys, end to end against the fake CDN OpenAPI on 127.0.0.1.

Every request is checked by the fake the way JD's gateway would (signature over what was
received, date, nonce, token, permission) and answered with JD's envelope. Each scenario
that works with legacy keys is run here too: paths, paths-file, git-diff, batching,
retries, wait (with per-URL failures), prefetch, dir-threshold, budgets, the outputs, the
summary, the report, dotenv, dry run and interruption. ``run_cli`` checks every channel
for the secret, the token and every signature the fake saw.
"""

from __future__ import annotations

import pytest

from tests.fake_jd import Fault
from tests.fake_openapi import ErrorFault
from tests.gitrepo import Origin, push_event
from tests.helpers import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    SECURITY_TOKEN,
    error_lines,
    interrupted_when,
    run_openapi,
    url,
)


# -- choosing the API ------------------------------------------------------------------------
def test_access_keys_choose_the_openapi_and_refresh(run_cli, fake_openapi, openapi_env):
    run = run_openapi(run_cli, openapi_env, "a.css\nimg/b c.png\ndocs/")

    assert run.code == 0, run.log
    assert fake_openapi.refreshed("url") == {url("a.css"), url("img/b%20c.png")}
    assert fake_openapi.refreshed("dir") == {url("docs/")}
    assert sorted(run.json_output("task-ids")) == sorted(fake_openapi.task_ids())
    assert run.outputs["task-id"] == run.json_output("task-ids")[0]
    assert run.report["settings"]["api"] == "openapi"
    assert "(openapi API)" in run.stdout
    bodies = [c.body for c in fake_openapi.accepted()]
    assert {b["taskType"] for b in bodies} == {"url", "dir"}
    assert all(set(b) == {"taskType", "urls"} for b in bodies)


def test_sts_credentials_send_the_security_token(run_cli, fake_openapi, openapi_env):
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_SECURITY_TOKEN=SECURITY_TOKEN)
    assert run.code == 0, run.log
    [call] = fake_openapi.accepted()
    assert call.headers["x-jdcloud-security-token"] == SECURITY_TOKEN
    assert "x-jdcloud-security-token" in call.headers["Authorization"]


@pytest.mark.parametrize("extra, message", [
    ({"JDCDN_USERNAME": "jcloud_user", "JDCDN_SECRET_KEY": "legacy-key-0123456789"},
     "api: both legacy credentials (username, secret-key) and OpenAPI credentials"),
    ({"JDCDN_ACCESS_KEY_ID": "", "JDCDN_ACCESS_KEY_SECRET": ""}, "no credentials: set "
     "access-key-id and access-key-secret"),
    ({"JDCDN_ACCESS_KEY_SECRET": ""}, "access-key-secret is required: set "
     "--access-key-secret, INPUT_ACCESS-KEY-SECRET or JDCDN_ACCESS_KEY_SECRET"),
    ({"JDCDN_API": "legacy"}, "username is required"),
    ({"JDCDN_API": "v2"}, "api: 'v2' is not one of auto, legacy, openapi"),
])
def test_credentials_that_do_not_decide_the_api_are_one_line_exit_2(
        run_cli, fake_openapi, openapi_env, extra, message):
    run = run_openapi(run_cli, openapi_env, "a.css", github=False, **extra)
    assert run.code == 2, run.log
    assert fake_openapi.calls == []
    [line] = run.stderr.splitlines()
    assert message in line


def test_dry_run_needs_no_credentials_and_may_have_both(run_cli, fake_openapi, openapi_env):
    for extra in ({"JDCDN_ACCESS_KEY_ID": "", "JDCDN_ACCESS_KEY_SECRET": ""},
                  {"JDCDN_USERNAME": "jcloud_user",
                   "JDCDN_SECRET_KEY": "legacy-key-0123456789"}):
        run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_DRY_RUN="true", **extra)
        assert run.code == 0, run.log
        assert run.json_output("urls") == [url("a.css")]
    assert fake_openapi.calls == []


def test_the_default_endpoint_stands_for_the_openapi_host():
    from jdcdn_action.settings import load

    env = {"JDCDN_ACCESS_KEY_ID": "ak", "JDCDN_ACCESS_KEY_SECRET": "sk",
           "INPUT_API-ENDPOINT": "https://opencdn.jcloud.com"}  # as the runner fills it in
    assert load([], env).api_endpoint == "https://cdn.jdcloud-api.com"
    assert load([], {"JDCDN_USERNAME": "u", "JDCDN_SECRET_KEY": "k"}).api_endpoint == \
        "https://opencdn.jcloud.com"


# -- batches, files and git ------------------------------------------------------------------
def test_batches_of_100_urls_and_5_directories(run_cli, fake_openapi, openapi_env):
    paths = "\n".join([f"f{i:03d}.js" for i in range(250)] + [f"d{i}/" for i in range(7)])
    run = run_openapi(run_cli, openapi_env, paths, JDCDN_MAX_URLS="0")
    assert run.code == 0, run.log
    sizes = sorted((c.body["taskType"], len(c.body["urls"])) for c in fake_openapi.accepted())
    assert sizes == [("dir", 2), ("dir", 5), ("url", 50), ("url", 100), ("url", 100)]
    assert run.outputs["batch-count"] == "5"


def test_paths_file_mapping(run_cli, fake_openapi, openapi_env, tmp_path):
    listing = tmp_path / "paths.yml"
    listing.write_text("files:\n  - 文档/说明.html\ndirs:\n  - assets/\n", encoding="utf-8")
    run = run_openapi(run_cli, openapi_env, JDCDN_PATHS_FILE=str(listing))
    assert run.code == 0, run.log
    assert fake_openapi.refreshed("url") == {
        url("%E6%96%87%E6%A1%A3/%E8%AF%B4%E6%98%8E.html")}
    assert fake_openapi.refreshed("dir") == {url("assets/")}


def test_git_diff_of_a_push(run_cli, fake_openapi, openapi_env, tmp_path):
    origin = Origin(tmp_path / "git")
    author = origin.work
    before = author.commit("site", "old.html")
    origin.push("main")
    author.commit("one", "a b.html")
    author.remove("old.html")
    after = author.commit("two", "c/ü.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")
    event = tmp_path / "event.json"
    event.write_text(__import__("json").dumps(push_event(before, after)))

    run = run_cli(env=openapi_env | {"JDCDN_GIT_DIFF": "true", "GITHUB_EVENT_NAME": "push",
                                     "GITHUB_EVENT_PATH": str(event)},
                  github=True, cwd=checkout.path)

    assert run.code == 0, run.log
    assert fake_openapi.refreshed() == {url("a%20b.html"), url("old.html"),
                                        url("c/%C3%BC.html")}


def test_dir_threshold_and_budget(run_cli, fake_openapi, openapi_env):
    paths = "\n".join(f"img/{i}.png" for i in range(30)) + "\nindex.css"
    run = run_openapi(run_cli, openapi_env, paths, JDCDN_DIR_THRESHOLD="20")
    assert run.code == 0, run.log
    assert fake_openapi.refreshed("dir") == {url("img/")}
    assert fake_openapi.refreshed("url") == {url("index.css")}

    over = run_openapi(run_cli, openapi_env, paths, JDCDN_MAX_URLS="10", github=False)
    assert over.code == 2 and "max-urls: the plan has 31 file URLs" in over.stderr


# -- faults ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fault, code, requests", [
    (Fault("http", code=503, headers={"Retry-After": "0"}), 0, 2),
    (ErrorFault(code=429, headers={"Retry-After": "0"}), 0, 2),
    (ErrorFault(code=500), 0, 2),
    (Fault("html"), 0, 2),
    (Fault("reset"), 0, 2),
    (ErrorFault(code=400, message="urls is invalid"), 1, 1),
    (Fault("http", code=307, headers={"Location": "https://elsewhere.example/v1/task"}),
     1, 1),
])
def test_faults_are_retried_or_final_as_the_contract_says(
        run_cli, fake_openapi, openapi_env, fault, code, requests):
    fake_openapi.script("/v1/task", fault)
    run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_MAX_ATTEMPTS="3")
    assert run.code == code, run.log
    assert len(fake_openapi.requests()) == requests
    signatures = {c.headers["Authorization"] for c in fake_openapi.requests()}
    assert len(signatures) == requests  # every attempt signed afresh
    if code:
        assert run.json_output("failed") == [url("a.css")]


def test_a_failed_call_keeps_its_request_id_in_the_log_and_report(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.script("/v1/task", ErrorFault(code=400, name="INVALID_ARGUMENT",
                                               message="bad urls"))
    run = run_openapi(run_cli, openapi_env, "a.css")
    assert run.code == 1
    [call] = fake_openapi.requests()
    assert call.request_id and call.request_id in run.stdout
    assert run.report["batches"][0]["request_id"] == call.request_id
    assert "HTTP 400 INVALID_ARGUMENT bad urls" in run.report["batches"][0]["error"]


def test_a_call_that_failed_after_retries_logs_its_last_request_id(
        run_cli, fake_openapi, openapi_env):
    fake_openapi.script("/v1/task", *[ErrorFault(code=503)] * 2)
    run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_MAX_ATTEMPTS="2")
    assert run.code == 1
    last = fake_openapi.requests()[-1]
    assert f"(requestId {last.request_id})" in run.stdout
    assert run.report["batches"][0]["request_id"] == last.request_id


@pytest.mark.parametrize("case, message", [
    ("wrong-secret", "HTTP 401: JD Cloud did not accept the credentials: check "
     "access-key-id, access-key-secret"),
    ("no-permission", "HTTP 403: the access key has no permission to refresh this CDN"),
    ("expired-token", "HTTP 401: JD Cloud did not accept the credentials"),
])
def test_refused_credentials_stop_later_calls_and_say_which(
        run_cli, fake_openapi, openapi_env, case, message):
    extra = {"JDCDN_CONCURRENCY": "1"}
    if case == "wrong-secret":
        extra["JDCDN_ACCESS_KEY_SECRET"] = ACCESS_KEY_SECRET + "-wrong"
    elif case == "no-permission":
        fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, allowed=False)
    else:
        fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
        extra["JDCDN_SECURITY_TOKEN"] = "an-expired-token"
    paths = "\n".join(f"f{i:03d}.js" for i in range(300))  # 3 batches
    run = run_openapi(run_cli, openapi_env, paths, **extra)

    assert run.code == 1
    # The quota read comes first: refused credentials (401) stop the run there; a key
    # without CDN permission gets 403 there too, which is only a warning, then at the
    # first call. Either way no later call is sent.
    assert len(fake_openapi.requests("/v1/user:quota")) == 1
    assert len(fake_openapi.requests()) == (1 if case == "no-permission" else 0)
    assert len(run.json_output("failed")) == 300
    assert message in error_lines(run)[-1]


def test_error_count_is_a_warning_and_wait_names_the_urls(run_cli, fake_openapi, openapi_env):
    foreign = "https://not-ours.example.org/x.css"
    run = run_openapi(run_cli, openapi_env, f"a.css\n{foreign}", JDCDN_WAIT="true",
                      JDCDN_POLL_INTERVAL="0.05")
    assert run.code == 1, run.log
    assert "JD accepted the call but not 1 of its URLs (errorCount 1)" in run.stdout
    assert run.json_output("failed") == [foreign]  # a.css was refreshed: not failed
    task = run.report["tasks"][0]
    assert task["state"] == "failed" and task["failed_urls"] == [foreign]


# -- wait and prefetch -----------------------------------------------------------------------
def test_wait_polls_10_ids_a_call_and_fails_only_the_failed_urls(
        run_cli, fake_openapi, openapi_env):
    paths = "\n".join(f"f{i:04d}.js" for i in range(1200))  # 12 tasks
    fake_openapi.task_script["url"] = (1, "success")
    fake_openapi.fail_instances.add(url("f0150.js"))
    run = run_openapi(run_cli, openapi_env, paths, JDCDN_WAIT="true",
                      JDCDN_POLL_INTERVAL="0.05")

    assert run.code == 1, run.log
    assert run.json_output("failed") == [url("f0150.js")]
    queries = fake_openapi.requests("/v1/task:queryByIds")
    assert max(len(c.body["taskIds"]) for c in queries) == 10
    assert run.json_output("pending-task-ids") == []
    assert "JD reports 1 of its URLs failed" in run.stdout
    assert "f0150.js" in run.summary


def test_prefetch_warms_the_refreshed_urls_50_a_call(run_cli, fake_openapi, openapi_env):
    paths = "\n".join(f"f{i:03d}.js" for i in range(120)) + "\nd/"
    run = run_openapi(run_cli, openapi_env, paths, JDCDN_PREFETCH="true", JDCDN_WAIT="true",
                      JDCDN_POLL_INTERVAL="0.05")
    assert run.code == 0, run.log
    assert sorted(len(urls) for urls in fake_openapi.prefetched()) == [20, 50, 50]
    assert len(run.json_output("prefetch-task-ids")) == 3


def test_wait_timeout_leaves_tasks_pending(run_cli, fake_openapi, openapi_env):
    fake_openapi.slow_instances[url("a.css")] = 10_000
    run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_WAIT="true",
                      JDCDN_WAIT_TIMEOUT="0.5", JDCDN_POLL_INTERVAL="0.1")
    assert run.code == 0, run.log
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")


def test_an_interrupted_wait_keeps_its_pending_tasks(run_cli, fake_openapi, openapi_env):
    fake_openapi.slow_instances[url("a.css")] = 10_000
    with interrupted_when(lambda: fake_openapi.requests("/v1/task:queryByIds") != []):
        run = run_openapi(run_cli, openapi_env, "a.css", JDCDN_WAIT="true",
                          JDCDN_POLL_INTERVAL="0.1", JDCDN_WAIT_TIMEOUT="30")
    assert run.code == 130, run.log
    assert run.json_output("pending-task-ids") == run.json_output("task-ids")


# -- outputs ---------------------------------------------------------------------------------
def test_gitlab_dotenv_and_odd_task_ids(run_cli, fake_openapi, openapi_env):
    fake_openapi.task_id_factory = lambda: "2024/11/28:Zm9v+YmFy="
    run = run_openapi(run_cli, openapi_env, "a.css", github=False, gitlab=True)
    assert run.code == 0, run.log
    assert run.dotenv["JDCDN_TASK_ID"] == "2024/11/28:Zm9v+YmFy="
    assert run.dotenv["JDCDN_URL_COUNT"] == "1"
    assert len(fake_openapi.requests()) == 1


def test_debug_logs_no_secret_token_or_signature(run_cli, fake_openapi, openapi_env):
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    run = run_cli(["--debug"], env=openapi_env | {"JDCDN_PATHS": "a.css",
                                                  "JDCDN_SECURITY_TOKEN": SECURITY_TOKEN,
                                                  "RUNNER_DEBUG": "1"}, github=True)
    assert run.code == 0, run.log
    assert "::debug::POST" in run.stdout  # debugging was on
    auth = fake_openapi.accepted()[0].headers["Authorization"]
    visible = "\n".join(line for line in run.log.splitlines()
                        if not line.startswith("::add-mask::"))
    assert auth not in visible and auth.rsplit("=", 1)[-1] not in visible
    for secret in (ACCESS_KEY_SECRET, SECURITY_TOKEN):
        assert f"::add-mask::{secret}" in run.stdout
