"""The day's quota (OpenAPI ``GET /v1/user:quota``), read once before the first refresh call.

Unit tests with ``responses`` for the call and its answers, pure tests for the check, and
runs of the command against the fake OpenAPI gateway, which verifies the GET's signature
(the empty body, ``content-type`` signed) and can refuse it as a policy without the action.
"""

from __future__ import annotations

import json

import pytest
import responses

from jdcdn_action.api import Quota
from jdcdn_action.api.openapi import OpenApi
from jdcdn_action.quota import describe, over_quota
from jdcdn_action.urls import UrlPlan
from tests.fake_jd import Fault
from tests.fake_openapi import ErrorFault
from tests.helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET

ENDPOINT = "https://cdn.jdcloud-api.com"
QUOTA_URL = ENDPOINT + "/v1/user:quota"
ANSWER = {"requestId": "req0001", "result": {
    "refreshAllCount": 2000, "refreshUsedCount": 3, "refreshRemainedCount": 1997,
    "dirAllCount": 50, "dirUsedCount": 1, "dirRemainedCount": 49,
    "prefetchAllCount": 2000, "prefetchUsedCount": 0, "prefetchRemainedCount": 2000,
    "forbiddenUrlAllCount": 1000, "forbiddenUrlUsedCount": 0,
    "forbiddenUrlRemainedCount": 1000}}


def plan(files: int, dirs: int = 0) -> UrlPlan:
    return UrlPlan(tuple(f"https://www.example.com/f{i}.js" for i in range(files)),
                   tuple(f"https://www.example.com/d{i}/" for i in range(dirs)))


def api(**options) -> OpenApi:
    return OpenApi(ENDPOINT, ACCESS_KEY_ID, ACCESS_KEY_SECRET, backoff=0, max_attempts=3,
                   sleep=lambda _s: None, **options)


# -- the call --------------------------------------------------------------------------------
@responses.activate
def test_the_quota_is_a_signed_get_with_an_empty_body():
    responses.get(QUOTA_URL, json=ANSWER)
    outcome = api().quota()
    assert outcome.ok and outcome.attempts == 1
    assert outcome.value == Quota(refresh_remained=1997, dir_remained=49, refresh_all=2000,
                                  refresh_used=3, dir_all=50, dir_used=1, prefetch_all=2000,
                                  prefetch_used=0, prefetch_remained=2000)
    request = responses.calls[0].request
    assert request.method == "GET" and not request.body
    assert request.headers["Content-Type"] == "application/json"
    assert "SignedHeaders=content-type;host;x-jdcloud-date;x-jdcloud-nonce" in \
        request.headers["Authorization"]


@pytest.mark.parametrize("code, stops", [(401, True), (403, False)])
@responses.activate
def test_401_stops_the_run_and_403_does_not(code, stops):
    responses.get(QUOTA_URL, status=code, json={"requestId": "r1", "error": {
        "code": code, "status": "X", "message": "no"}})
    client = api()
    outcome = client.quota()
    assert not outcome.ok and outcome.attempts == 1
    assert outcome.auth_failed is stops and client.stopped.is_set() is stops
    if code == 403:  # names the action the policy lacks
        assert "cdn:queryCdnUserQuota" in outcome.error
    else:
        assert "did not accept the credentials" in outcome.error


@pytest.mark.parametrize("answer", [
    {"requestId": "r", "result": {"refreshRemainedCount": "1997", "dirRemainedCount": 49}},
    {"requestId": "r", "result": {"refreshRemainedCount": 1997}},
    {"requestId": "r", "result": {"refreshRemainedCount": True, "dirRemainedCount": 49}},
    {"requestId": "r", "result": {"refreshRemainedCount": -1, "dirRemainedCount": 49}},
    {"requestId": "r"},
])
@responses.activate
def test_an_odd_answer_is_retried_then_a_failure(answer):
    responses.get(QUOTA_URL, json=answer)
    outcome = api().quota()
    assert not outcome.ok and outcome.attempts == 3 and not outcome.auth_failed
    assert "unexpected answer from /v1/user:quota" in outcome.error


@responses.activate
def test_5xx_is_retried():
    responses.get(QUOTA_URL, status=503)
    responses.get(QUOTA_URL, json=ANSWER)
    outcome = api().quota()
    assert outcome.ok and outcome.attempts == 2


# -- the check -------------------------------------------------------------------------------
QUOTA = Quota(refresh_remained=3, dir_remained=1, refresh_all=2000, dir_all=50,
              prefetch_remained=2, prefetch_all=2000)


def test_a_plan_within_the_quota_passes():
    assert over_quota(plan(3, 1), QUOTA) is None
    assert over_quota(plan(3, 1), QUOTA, prefetch=False) is None


def test_a_plan_over_the_quota_names_the_numbers():
    assert over_quota(plan(5), QUOTA).startswith(
        "JD's quota: 5 file URLs to refresh, 3 left today (2000 a day); nothing was sent.")
    message = over_quota(plan(2, 2), QUOTA)
    assert "2 directories to refresh, 1 left today (50 a day)" in message
    assert "file URLs" not in message


def test_prefetch_also_counts_against_the_prefetch_quota():
    assert over_quota(plan(3), QUOTA, prefetch=True) == (
        "JD's quota: 3 file URLs to prefetch, 2 prefetches left today (2000 a day); nothing "
        "was sent. Refresh fewer URLs (narrow paths/include/exclude, or set dir-threshold to "
        "refresh crowded folders as directories), or run again when the quota renews.")


def test_unknown_totals_are_left_out():
    quota = Quota(refresh_remained=1997, dir_remained=50)
    assert describe(quota) == "quota today: 1,997 URL refreshes left, 50 directories"
    assert "(" not in over_quota(plan(1998), quota).split(";")[0]


def test_describe():
    quota = Quota(refresh_remained=1997, dir_remained=49, refresh_all=2000, dir_all=50,
                  prefetch_remained=2000, prefetch_all=2000)
    assert describe(quota) == ("quota today: 1,997 of 2,000 URL refreshes left, 49 of 50 "
                               "directories")
    assert describe(quota, prefetch=True).endswith(", 2,000 of 2,000 prefetches")


# -- the command against the fake gateway ----------------------------------------------------
def run_openapi(run_cli, openapi_env, paths, **extra):
    return run_cli(env=openapi_env | {"JDCDN_PATHS": paths, "JDCDN_MAX_ATTEMPTS": "2"} | extra,
                   github=True)


def files(n: int) -> str:
    return "\n".join(f"f{i:03d}.js" for i in range(n))


def test_the_quota_is_read_once_before_the_first_call(run_cli, fake_openapi, openapi_env):
    fake_openapi.used["url"] = 3
    run = run_openapi(run_cli, openapi_env, files(150) + "\nimg/")
    assert run.code == 0, run.log
    [read] = fake_openapi.requests("/v1/user:quota")
    assert read.method == "GET" and read.code == 200  # the fake verified its signature
    first_call = min(c.at for c in fake_openapi.requests("/v1/task"))
    assert read.at < first_call
    assert "Quota today: 1,997 of 2,000 URL refreshes left, 50 of 50 directories." \
        in run.stdout
    assert "quota today: 1,997 of 2,000 URL refreshes left" in run.summary
    assert run.report["quota"] == {"read": True, "error": None, "note": None, "counts": {
        "refresh": {"all": 2000, "used": 3, "remained": 1997},
        "dir": {"all": 50, "used": 0, "remained": 50},
        "prefetch": {"all": 2000, "used": 0, "remained": 2000}}}


@pytest.mark.parametrize("kind, paths, message", [
    ("url", files(5), "JD's quota: 5 file URLs to refresh, 3 left today (2000 a day); "
                      "nothing was sent."),
    ("dir", "a/\nb/", "JD's quota: 2 directories to refresh, 1 left today (50 a day)"),
])
def test_a_plan_over_what_is_left_is_exit_2_and_nothing_is_sent(
        run_cli, fake_openapi, openapi_env, kind, paths, message):
    fake_openapi.used[kind] = fake_openapi.daily[kind] - (3 if kind == "url" else 1)
    run = run_openapi(run_cli, openapi_env, paths)
    assert run.code == 2, run.log
    assert fake_openapi.requests() == []
    assert message in run.log and "::error title=jdcdn-action bad input::" in run.log


def test_prefetch_checks_the_prefetch_quota(run_cli, fake_openapi, openapi_env):
    fake_openapi.used["prefetch"] = 1998
    run = run_openapi(run_cli, openapi_env, files(5), JDCDN_PREFETCH="true")
    assert run.code == 2, run.log
    assert "5 file URLs to prefetch, 2 prefetches left today (2000 a day)" in run.log
    assert fake_openapi.requests() == []


@pytest.mark.parametrize("fault, cause", [
    ("denied", "HTTP 403 PERMISSION_DENIED the policy does not allow cdn:queryCdnUserQuota: "
               "the access key may not read the quota: allow cdn:queryCdnUserQuota"),
    (ErrorFault(code=503), "HTTP 503"),
    (Fault("http", code=200, body=json.dumps({"requestId": "r", "result": {
        "refreshRemainedCount": "many"}})), "unexpected answer from /v1/user:quota"),
    (Fault("html"), "unexpected answer from /v1/user:quota (HTTP 200, not JSON)"),
])
def test_a_failed_read_is_one_warning_and_the_run_goes_on(
        run_cli, fake_openapi, openapi_env, fault, cause):
    if fault == "denied":
        fake_openapi.denied.add("queryCdnUserQuota")
    else:
        fake_openapi.script("/v1/user:quota", fault, fault)  # every attempt (2)
    run = run_openapi(run_cli, openapi_env, files(150))
    assert run.code == 0, run.log
    assert len(fake_openapi.accepted()) == 2  # the refresh went on
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("::warning title=quota not read::JD's quota could not be "
                                  "read: ")
    assert cause in warnings[0]
    assert "The run goes on within max-urls (2000) and max-dirs (50)." in warnings[0]
    assert run.report["quota"]["read"] is False and cause in run.report["quota"]["error"]
    assert "JD's quota: not read (" in run.summary


def test_a_bug_in_the_read_is_one_warning_and_the_run_goes_on(
        run_cli, fake_openapi, openapi_env, monkeypatch):
    from jdcdn_action.api.openapi import OpenApi

    def quota(_self):
        raise KeyError("a bug")

    monkeypatch.setattr(OpenApi, "quota", quota)
    run = run_openapi(run_cli, openapi_env, files(150))
    assert run.code == 0, run.log
    assert len(fake_openapi.accepted()) == 2
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1 and "internal error: KeyError in test_quota.py:" in warnings[0]
    assert run.report["quota"]["read"] is False


def test_refused_credentials_on_the_read_stop_the_run(run_cli, fake_openapi, openapi_env):
    run = run_openapi(run_cli, openapi_env, files(150),
                      JDCDN_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET + "-wrong")
    assert run.code == 1, run.log
    assert len(fake_openapi.requests("/v1/user:quota")) == 1
    assert fake_openapi.requests() == []  # nothing sent
    assert len(run.json_output("failed")) == 150
    last = [line for line in run.log.splitlines() if line.startswith("::error")][-1]
    assert "150 of 150 URLs were not refreshed" in last
    assert "HTTP 401: JD Cloud did not accept the credentials" in last


def test_the_legacy_api_says_it_has_no_quota_call(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css"}, github=True)
    assert run.code == 0, run.log
    assert run.report["quota"] == {
        "read": False, "counts": None, "error": None,
        "note": "the legacy API has no quota call: the plan was checked against max-urls "
                "and max-dirs only"}
    assert "legacy API has no quota call" in run.summary


def test_a_dry_run_reads_no_quota(run_cli, fake_openapi, openapi_env):
    run = run_openapi(run_cli, openapi_env, files(3), JDCDN_DRY_RUN="true")
    assert run.code == 0 and fake_openapi.calls == []
    assert run.report["quota"] is None
