"""The legacy API with `responses`: signing, retries, backoff, Retry-After, every JD status path."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses

from jdcdn_action.api.legacy import STATUS_HINTS, LegacyApi
from jdcdn_action.api.legacy_signing import sign, signing_day
from jdcdn_action.api.transport import task_id_from

ENDPOINT = "https://opencdn.jcloud.com"
URL = ENDPOINT + "/api/refresh"
CN = dt.timezone(dt.timedelta(hours=8))
PAYLOAD = {"type": "file", "instances": ["https://www.example.com/a.css"]}


def make_api(**kwargs) -> tuple[LegacyApi, list[float], list[str]]:
    sleeps: list[float] = []
    masked: list[str] = []
    api = LegacyApi(ENDPOINT, "user", "key", kwargs.pop("tz", CN), backoff=1.0,
                sleep=sleeps.append, on_signature=masked.append, **kwargs)
    return api, sleeps, masked


def ok(task: str = "t-1") -> dict:
    return {"json": {"status": 0, "msg": "Successful", "taskid": task}}


@responses.activate
def test_success_signs_with_utc8_date_and_sends_json():
    responses.post(URL, **ok("93820486-226d-459b-b33f-5124b566cab7"))
    api, sleeps, masked = make_api()
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert result.ok and result.value == "93820486-226d-459b-b33f-5124b566cab7"
    assert result.attempts == 1 and not sleeps
    request = responses.calls[0].request
    body = json.loads(request.body)
    expected = sign("user", "key", signing_day(CN))
    assert body == {"username": "user", "signature": expected, **PAYLOAD}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("jdcdn-action/")
    assert masked == [expected]


@pytest.mark.parametrize("failure", [
    {"status": 500}, {"status": 502}, {"status": 503}, {"status": 429},
    {"body": "<html>oops</html>", "status": 200},
    {"json": {"status": -1, "msg": "exception"}},
    {"json": {"status": 8, "msg": "call failed"}},
    {"json": {"status": 0, "msg": "ok"}},  # no task ID
    {"json": ["not", "a", "mapping"]},
    {"body": requests.ConnectionError("Connection refused")},
    {"body": requests.ReadTimeout("read timed out")},
])
@responses.activate
def test_transient_failures_are_retried_then_succeed(failure):
    responses.post(URL, **failure)
    responses.post(URL, **failure)
    responses.post(URL, **ok())
    api, sleeps, _ = make_api()
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert result.ok and result.attempts == 3
    assert len(sleeps) == 2
    # exponential backoff with jitter: attempt n waits within [base*2^(n-1)/2, base*2^(n-1)]
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


@responses.activate
def test_transient_failure_exhausts_max_attempts():
    for _ in range(5):
        responses.post(URL, status=503)
    api, sleeps, _ = make_api(max_attempts=3)
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert not result.ok and result.attempts == 3
    assert len(responses.calls) == 3 and len(sleeps) == 2
    assert "HTTP 503" in result.error


@responses.activate
def test_retry_after_seconds_honoured_and_capped():
    responses.post(URL, status=429, headers={"Retry-After": "7"})
    responses.post(URL, status=503, headers={"Retry-After": "86400"})
    responses.post(URL, **ok())
    api, sleeps, _ = make_api()
    assert api.call("/api/refresh", PAYLOAD, task_id_from).ok
    assert sleeps == [7.0, 60.0]


@responses.activate
def test_retry_after_http_date():
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    responses.post(URL, status=503,
                   headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    responses.post(URL, **ok())
    api, sleeps, _ = make_api()
    assert api.call("/api/refresh", PAYLOAD, task_id_from).ok
    assert 25 <= sleeps[0] <= 31


@pytest.mark.parametrize("status", sorted(set(STATUS_HINTS) - {7}))
@responses.activate
def test_permanent_jd_statuses_are_not_retried(status):
    responses.post(URL, json={"status": status, "msg": "nope"})
    api, sleeps, _ = make_api()
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert not result.ok and result.attempts == 1 and not sleeps
    assert f"JD status {status} (nope)" in result.error
    assert STATUS_HINTS[status] in result.error
    assert not result.auth_failed and not api.stopped.is_set()


def test_domain_statuses_tell_what_to_do():
    for status in (15, 18):
        assert "domain is not on this JD account" in STATUS_HINTS[status]
    assert "signature-timezone" in STATUS_HINTS[7]


@pytest.mark.parametrize("code", [400, 401, 403, 404])
@responses.activate
def test_http_4xx_is_permanent(code):
    responses.post(URL, status=code, body="denied")
    api, sleeps, _ = make_api()
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert not result.ok and result.attempts == 1 and f"HTTP {code}" in result.error
    assert not sleeps


@responses.activate
def test_status_7_retried_once_with_utc_date_when_dates_differ(monkeypatch):
    tz = dt.timezone(dt.timedelta(hours=14))  # the date differs from UTC's most of the day
    now = dt.datetime.now(dt.UTC)
    if signing_day(tz, now) == now.date():
        tz = dt.timezone(dt.timedelta(hours=-12))
    utc_signature = sign("user", "key", now.date())

    def answer(request):
        body = json.loads(request.body)
        if body["signature"] == utc_signature:
            return 200, {}, json.dumps({"status": 0, "taskid": "t-utc"})
        return 200, {}, json.dumps({"status": 7, "msg": "signature incorrect"})

    responses.add_callback(responses.POST, URL, callback=answer)
    api, _, masked = make_api(tz=tz)
    first = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert first.ok and first.value == "t-utc" and first.attempts == 2
    assert utc_signature in masked
    # Later calls go straight to the UTC date.
    second = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert second.ok and second.attempts == 1
    assert len(responses.calls) == 3


@responses.activate
def test_status_7_twice_stops_every_later_call():
    responses.post(URL, json={"status": 7, "msg": "signature incorrect"})
    api, _, _ = make_api(tz=dt.timezone(dt.timedelta(hours=14)))
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert not result.ok and result.auth_failed and api.stopped.is_set()
    assert len(responses.calls) <= 2
    sent = len(responses.calls)
    later = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert not later.ok and later.auth_failed and later.attempts == 0
    assert "not sent" in later.error and len(responses.calls) == sent


@responses.activate
def test_status_7_with_same_dates_stops_at_once():
    responses.post(URL, json={"status": 7})
    api, _, _ = make_api(tz=dt.UTC)
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert result.auth_failed and result.attempts == 1 and len(responses.calls) == 1


@pytest.mark.parametrize("value, expected", [
    ("93820486-226d-459b-b33f-5124b566cab7", "93820486-226d-459b-b33f-5124b566cab7"),
    (12345, "12345"),
    ("", None), (None, None), (True, None), ("  ", None), ("a" * 257, None),
    # The API documents no format: anything else is JD's ID, made harmless where printed.
    ("2024/11/28:Zm9v+YmFy=", "2024/11/28:Zm9v+YmFy="), ("::error::x", "::error::x"),
    ("a b", "a b"), ("x\ny", "x\ny"), ("中", "中"), ("a" * 256, "a" * 256),
])
def test_task_id_validation(value, expected):
    assert task_id_from({"taskid": value}) == expected


@responses.activate
def test_string_status_is_understood():
    responses.post(URL, json={"status": "0", "taskid": "t"})
    api, _, _ = make_api()
    assert api.call("/api/refresh", PAYLOAD, task_id_from).ok


@responses.activate
def test_server_message_is_cleaned():
    responses.post(URL, json={"status": 1, "msg": "bad\n::error::injected" + "x" * 500})
    api, _, _ = make_api()
    result = api.call("/api/refresh", PAYLOAD, task_id_from)
    assert "\n" not in result.error and len(result.error) < 400
