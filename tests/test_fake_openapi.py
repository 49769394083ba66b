"""The fake OpenAPI checks what JD's gateway would: it accepts a well-signed call and refuses
every way a signer can go wrong, enforces the per-call limits, scripts tasks and faults.

A minimal requests-based client, signing with the project's signer, drives it. Tests that
prove the fake catches a faulty signer build the faulty request by hand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests

from jdcdn_action.api.openapi_signing import (
    authorization,
    canonical_request,
    credential_scope,
    default_signed_names,
    sign_request,
    signature,
    signed_headers,
)
from tests.fake_jd import Fault
from tests.fake_openapi import ApiError, ErrorFault, FakeOpenApi
from tests.helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN

URL = "https://www.example.com/"
TIMEOUT = 5
SDK_CALLS = json.loads((Path(__file__).parent / "data" / "openapi_signatures.json")
                       .read_text("utf-8"))


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def call(api: FakeOpenApi, path: str, body: Any = None, *, method: str = "POST",
         key: tuple[str, str] = (ACCESS_KEY_ID, ACCESS_KEY_SECRET), token: str | None = None,
         now: dt.datetime | None = None, nonce: str | None = None,
         timeout: float = TIMEOUT) -> requests.Response:
    """A correctly signed call, as the backend will make it."""
    raw = dumps(body) if body is not None else b""
    headers = signed_headers(method, api.endpoint + path, raw, *key, token=token, now=now,
                             nonce=nonce)
    return send(api, method, path, headers, raw, timeout=timeout)


def send(api: FakeOpenApi, method: str, path: str, headers: Mapping[str, str], raw: bytes,
         timeout: float = TIMEOUT) -> requests.Response:
    return requests.request(method, api.endpoint + path, data=raw, headers=dict(headers),
                            timeout=timeout, allow_redirects=False)


def refresh(api: FakeOpenApi, task_type: str, urls: list[str], **kw: Any) -> requests.Response:
    return call(api, "/v1/task", {"taskType": task_type, "urls": urls}, **kw)


def query(api: FakeOpenApi, task_ids: list[str]) -> requests.Response:
    return call(api, "/v1/task:queryByIds", {"taskIds": task_ids})


def result(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "error" not in answer
    assert len(answer["requestId"]) == 32
    return answer["result"]


def assert_error(response: requests.Response, code: int, status: str,
                 message: str = "") -> dict[str, Any]:
    """JD's envelope, HTTP status = error.code, and the requestId in header and body."""
    assert response.status_code == code, response.text
    answer = response.json()
    assert set(answer) == {"requestId", "error"}
    assert answer["error"]["code"] == code
    assert answer["error"]["status"] == status
    assert message in answer["error"]["message"]
    assert response.headers["x-jdcloud-request-id"] == answer["requestId"]
    return answer


def good_headers(api: FakeOpenApi, path: str, raw: bytes, method: str = "POST",
                 **kw: Any) -> dict[str, str]:
    return signed_headers(method, api.endpoint + path, raw, ACCESS_KEY_ID, ACCESS_KEY_SECRET,
                          **kw)


BODY = dumps({"taskType": "url", "urls": [URL + "a.html"]})


# -- authentication --------------------------------------------------------------------------
def test_a_well_signed_call_is_accepted_and_recorded(fake_openapi: FakeOpenApi) -> None:
    response = refresh(fake_openapi, "url", [URL + "a.html", URL + "b.html"])
    answer = result(response)
    assert answer["errorCount"] == 0
    assert fake_openapi.task_ids() == [answer["taskId"]]
    assert fake_openapi.refreshed("url") == {URL + "a.html", URL + "b.html"}
    assert fake_openapi.refreshed("dir") == set()
    (recorded,) = fake_openapi.requests()
    assert recorded.method == "POST" and recorded.code == 200
    assert recorded.request_id == response.json()["requestId"]
    assert recorded.body == {"taskType": "url", "urls": [URL + "a.html", URL + "b.html"]}
    assert recorded.headers["Authorization"].startswith("JDCLOUD3-HMAC-SHA256 Credential=")


def test_wrong_secret_or_unknown_key_is_unauthenticated(fake_openapi: FakeOpenApi) -> None:
    assert_error(refresh(fake_openapi, "url", [URL], key=(ACCESS_KEY_ID, "wrong")),
                 401, "UNAUTHENTICATED", "signature does not match")
    assert_error(refresh(fake_openapi, "url", [URL], key=("JDC_UNKNOWN", ACCESS_KEY_SECRET)),
                 401, "UNAUTHENTICATED", "invalid access key")
    assert fake_openapi.accepted() == []


def test_a_date_far_from_the_server_clock_is_refused(fake_openapi: FakeOpenApi) -> None:
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    assert_error(refresh(fake_openapi, "url", [URL], now=stale), 401, "UNAUTHENTICATED",
                 "too far from server time")
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    assert_error(refresh(fake_openapi, "url", [URL], now=ahead), 401, "UNAUTHENTICATED")
    fake_openapi.max_skew = 600
    result(refresh(fake_openapi, "url", [URL], now=stale))


def test_the_scope_date_must_be_the_date_headers_day(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.clock = lambda: dt.datetime(2024, 11, 28, 23, 59, 58, tzinfo=dt.UTC)
    now = dt.datetime(2024, 11, 28, 23, 59, 59, tzinfo=dt.UTC)
    headers = good_headers(fake_openapi, "/v1/task", BODY, now=now)
    headers["Authorization"] = headers["Authorization"].replace("/20241128/", "/20241129/")
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "scope date")
    result(send(fake_openapi, "POST", "/v1/task", good_headers(fake_openapi, "/v1/task", BODY,
                                                                now=now), BODY))


@pytest.mark.parametrize(("region", "service"), [("cn-north-1", "cdn"), ("jdcloud-api", "vm")])
def test_the_scope_must_name_jdcloud_api_and_cdn(fake_openapi: FakeOpenApi, region: str,
                                                 service: str) -> None:
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    headers["Authorization"] = sign_request("POST", "/v1/task", "", headers, BODY,
                                            ACCESS_KEY_ID, ACCESS_KEY_SECRET, region=region,
                                            service=service)
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "credential scope")


def test_a_reused_nonce_is_refused(fake_openapi: FakeOpenApi) -> None:
    result(refresh(fake_openapi, "url", [URL], nonce="only-once"))
    assert_error(refresh(fake_openapi, "url", [URL], nonce="only-once"), 401,
                 "UNAUTHENTICATED", "nonce already used")
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    result(send(fake_openapi, "POST", "/v1/task", headers, BODY))
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "nonce")  # a replay of a whole request
    assert len(fake_openapi.accepted()) == 2


@pytest.mark.parametrize("name", ["x-jdcloud-date", "x-jdcloud-nonce", "authorization"])
def test_date_nonce_and_authorization_are_required(fake_openapi: FakeOpenApi,
                                                    name: str) -> None:
    headers = {k: v for k, v in good_headers(fake_openapi, "/v1/task", BODY).items()
               if k.lower() != name}
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED")


@pytest.mark.parametrize("dropped", ["host", "content-type", "x-jdcloud-date",
                                     "x-jdcloud-nonce"])
def test_a_signer_leaving_a_required_header_unsigned_is_caught(fake_openapi: FakeOpenApi,
                                                                dropped: str) -> None:
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    names = [n for n in ("content-type", "host", "x-jdcloud-date", "x-jdcloud-nonce")
             if n != dropped]
    headers["Authorization"] = sign_request("POST", "/v1/task", "", headers, BODY,
                                            ACCESS_KEY_ID, ACCESS_KEY_SECRET,
                                            signed_header_names=names)
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", f"headers not signed: {dropped}")


def test_a_signer_signing_another_path_is_caught(fake_openapi: FakeOpenApi) -> None:
    raw = dumps({"taskIds": ["x"]})
    headers = good_headers(fake_openapi, "/v1/task", raw)
    assert_error(send(fake_openapi, "POST", "/v1/task:queryByIds", headers, raw), 401,
                 "UNAUTHENTICATED", "signature does not match")


def raw_path_signed(headers: dict[str, str], method: str, path: str, raw: bytes) -> str:
    """The Authorization of a signer that puts the path in the canonical request as sent,
    colon and all (JD's Go SDK; this project's earlier signer), instead of re-encoded."""
    names = default_signed_names(headers)
    lines = canonical_request(method, path, "", headers, names, raw).split("\n")
    lines[1] = path
    date = headers["x-jdcloud-date"]
    return authorization(ACCESS_KEY_ID, credential_scope(date), names,
                         signature(ACCESS_KEY_SECRET, date, "\n".join(lines)))


def test_a_signer_signing_the_raw_colon_is_refused(fake_openapi: FakeOpenApi) -> None:
    raw = dumps({"taskIds": ["x"]})
    headers = good_headers(fake_openapi, "/v1/task:queryByIds", raw)
    result(send(fake_openapi, "POST", "/v1/task:queryByIds", headers, raw))  # encoded: ok
    headers = good_headers(fake_openapi, "/v1/task:queryByIds", raw)
    headers["Authorization"] = raw_path_signed(headers, "POST", "/v1/task:queryByIds", raw)
    assert_error(send(fake_openapi, "POST", "/v1/task:queryByIds", headers, raw), 401,
                 "UNAUTHENTICATED", "signature does not match")
    # Without a colon both rules sign the same: the refusal above is the colon's.
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    headers["Authorization"] = raw_path_signed(headers, "POST", "/v1/task", BODY)
    result(send(fake_openapi, "POST", "/v1/task", headers, BODY))


def test_the_jdcloud2_algorithm_is_refused(fake_openapi: FakeOpenApi) -> None:
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    headers["Authorization"] = headers["Authorization"].replace("JDCLOUD3", "JDCLOUD2") \
        .replace("jdcloud3_request", "jdcloud2_request")
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "malformed Authorization")


def sdk_request(vector: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The request target and headers of a call jdcloud-sdk signed (tests/data)."""
    host = vector["canonical_request"].split("\nhost:", 1)[1].split("\n", 1)[0]
    headers = {"Content-Type": "application/json", "Host": host,
               "x-jdcloud-date": SDK_CALLS["date"], "x-jdcloud-nonce": SDK_CALLS["nonce"],
               "Authorization": vector["authorization"]}
    if vector["token"]:
        headers["x-jdcloud-security-token"] = vector["token"]
    target = requests.Request(vector["method"], vector["url"]).prepare().path_url
    return target, headers


@pytest.mark.parametrize("vector", SDK_CALLS["vectors"], ids=lambda v: v["name"])
def test_what_jdcloud_sdk_signs_is_accepted(fake_openapi: FakeOpenApi,
                                             vector: dict[str, Any]) -> None:
    """The fake takes what JD's SDK signs, whatever the project's signer does: the routed
    calls over HTTP, the others (the quota GET, paths under a prefix) at the check itself."""
    signed_at = dt.datetime.strptime(SDK_CALLS["date"], "%Y%m%dT%H%M%SZ")
    fake_openapi.clock = lambda: signed_at.replace(tzinfo=dt.UTC)
    fake_openapi.add_key(SDK_CALLS["access_key"], SDK_CALLS["secret_key"], vector["token"])
    target, headers = sdk_request(vector)
    raw = vector["body"].encode("utf-8")
    if target in ("/v1/task", "/v1/task:queryByIds"):
        response = send(fake_openapi, vector["method"], target, headers, raw)
        if "中文" in vector["body"]:  # signed right, but JD wants URLs percent-encoded
            assert_error(response, 400, "INVALID_ARGUMENT", "not encoded")
        else:
            result(response)
    else:
        received = {name.lower(): [value] for name, value in headers.items()}
        fake_openapi.authenticate(vector["method"], target, received, raw)
        received["x-jdcloud-nonce"] = ["another"]  # the signature covers the nonce
        with pytest.raises(ApiError, match="signature does not match"):
            fake_openapi.authenticate(vector["method"], target, received, raw)


def test_a_get_is_verified_with_the_empty_body(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    task_id = result(refresh(fake_openapi, "url", [URL], token=SECURITY_TOKEN))["taskId"]
    path = "/v1/task/" + task_id
    headers = good_headers(fake_openapi, path, b"", token=SECURITY_TOKEN, method="GET")
    assert result(send(fake_openapi, "GET", path, headers, b""))["task"]["taskId"] == task_id
    headers = good_headers(fake_openapi, path, b"{}", token=SECURITY_TOKEN, method="GET")
    assert_error(send(fake_openapi, "GET", path, headers, b""), 401, "UNAUTHENTICATED",
                 "signature does not match")


def test_a_body_changed_after_signing_is_caught(fake_openapi: FakeOpenApi) -> None:
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    changed = BODY.replace(b"a.html", b"b.html")
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, changed), 401,
                 "UNAUTHENTICATED", "signature does not match")
    reformatted = json.dumps(json.loads(BODY), indent=1).encode()  # same JSON, other bytes
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, reformatted), 401,
                 "UNAUTHENTICATED")


def test_signed_values_are_checked_as_received(fake_openapi: FakeOpenApi) -> None:
    # Host signed without the port, while the HTTP library sends it with the port.
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    headers["Host"] = "127.0.0.1"
    headers["Authorization"] = sign_request("POST", "/v1/task", "", headers, BODY,
                                            ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    del headers["Host"]
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "signature does not match")
    # A signed header's value changed after signing.
    headers = good_headers(fake_openapi, "/v1/task", BODY)
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "signature does not match")
    # A header named in SignedHeaders that is not sent.
    headers = good_headers(fake_openapi, "/v1/task", BODY) | {"x-extra": "1"}
    headers["Authorization"] = sign_request(
        "POST", "/v1/task", "", headers, BODY, ACCESS_KEY_ID, ACCESS_KEY_SECRET,
        signed_header_names=["content-type", "host", "x-extra", "x-jdcloud-date",
                             "x-jdcloud-nonce"])
    del headers["x-extra"]
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "signed headers not sent: x-extra")


def test_unsigned_headers_may_change(fake_openapi: FakeOpenApi) -> None:
    headers = good_headers(fake_openapi, "/v1/task", BODY) | {"User-Agent": "other/9"}
    result(send(fake_openapi, "POST", "/v1/task", headers, BODY))


def test_sts_keys_need_their_signed_token(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    result(refresh(fake_openapi, "url", [URL], token=SECURITY_TOKEN))
    assert fake_openapi.requests()[0].headers["x-jdcloud-security-token"] == SECURITY_TOKEN
    assert_error(refresh(fake_openapi, "url", [URL]), 401, "UNAUTHENTICATED",
                 "without x-jdcloud-security-token")
    assert_error(refresh(fake_openapi, "url", [URL], token="expired"), 401,
                 "UNAUTHENTICATED", "security token is invalid")
    headers = good_headers(fake_openapi, "/v1/task", BODY, token=SECURITY_TOKEN)
    headers["Authorization"] = sign_request(
        "POST", "/v1/task", "", headers, BODY, ACCESS_KEY_ID, ACCESS_KEY_SECRET,
        signed_header_names=["content-type", "host", "x-jdcloud-date", "x-jdcloud-nonce"])
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, BODY), 401,
                 "UNAUTHENTICATED", "headers not signed: x-jdcloud-security-token")


def test_a_token_with_a_permanent_key_is_refused(fake_openapi: FakeOpenApi) -> None:
    assert_error(refresh(fake_openapi, "url", [URL], token=SECURITY_TOKEN), 401,
                 "UNAUTHENTICATED", "permanent access key")


def test_a_key_without_permission_is_denied(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.add_key("JDC_READONLY", "readonly-secret", allowed=False)
    assert_error(refresh(fake_openapi, "url", [URL], key=("JDC_READONLY", "readonly-secret")),
                 403, "PERMISSION_DENIED")
    assert_error(refresh(fake_openapi, "url", [URL], key=("JDC_READONLY", "wrong")),
                 401, "UNAUTHENTICATED")


# -- routing ---------------------------------------------------------------------------------
def test_unknown_paths_and_wrong_methods(fake_openapi: FakeOpenApi) -> None:
    assert_error(call(fake_openapi, "/v1/tasks", {}), 404, "NOT_FOUND")
    assert_error(call(fake_openapi, "/api/refresh", {}), 404, "NOT_FOUND")
    for method in ("GET", "PUT", "DELETE"):
        assert_error(call(fake_openapi, "/v1/task", method=method), 405,
                     "METHOD_NOT_ALLOWED")
    assert_error(call(fake_openapi, "/v1/task:queryByIds", method="GET"), 405,
                 "METHOD_NOT_ALLOWED")


def test_a_body_that_is_not_json_is_invalid(fake_openapi: FakeOpenApi) -> None:
    raw = b"taskType=url"
    headers = good_headers(fake_openapi, "/v1/task", raw)
    assert_error(send(fake_openapi, "POST", "/v1/task", headers, raw), 400,
                 "INVALID_ARGUMENT", "not JSON")


# -- createRefreshTask -----------------------------------------------------------------------
@pytest.mark.parametrize(("task_type", "limit", "suffix"), [
    ("url", 100, ".html"), ("dir", 5, "/"), ("prefetch", 50, ".js")])
def test_per_call_limits(fake_openapi: FakeOpenApi, task_type: str, limit: int,
                         suffix: str) -> None:
    urls = [f"{URL}f{n}{suffix}" for n in range(limit + 1)]
    result(refresh(fake_openapi, task_type, urls[:limit]))
    assert_error(refresh(fake_openapi, task_type, urls), 400, "INVALID_ARGUMENT",
                 f"at most {limit}")


@pytest.mark.parametrize(("task_type", "urls", "message"), [
    ("file", [URL], "taskType"),
    ("url", [], "non-empty"),
    ("url", "https://www.example.com/", "non-empty"),
    ("url", [URL + "a b.html"], "not encoded"),
    ("url", [URL + "caf\u00e9"], "not encoded"),
    ("url", ["ftp://www.example.com/a"], "illegal url"),
    ("url", ["/a.html"], "illegal url"),
    ("url", [URL, URL], "duplicate"),
    ("dir", [URL + "docs"], "must end with /"),
])
def test_invalid_submissions(fake_openapi: FakeOpenApi, task_type: str, urls: Any,
                             message: str) -> None:
    assert_error(refresh(fake_openapi, task_type, urls), 400, "INVALID_ARGUMENT", message)
    assert fake_openapi.tasks == {}


def test_urls_of_other_domains_count_in_error_count(fake_openapi: FakeOpenApi) -> None:
    mine, theirs = URL + "a.html", "https://other.example.net/a.html"
    answer = result(refresh(fake_openapi, "url", [mine, theirs]))
    assert answer["errorCount"] == 1
    (task,) = result(query(fake_openapi, [answer["taskId"]]))["tasks"]
    assert task["taskStatus"] == "failed"
    assert {u["url"]: u["status"] for u in task["urlTasks"]} == \
        {mine: "success", theirs: "failed"}
    fake_openapi.reject_foreign_domains = True
    assert_error(refresh(fake_openapi, "url", [mine, theirs]), 400, "INVALID_ARGUMENT",
                 "other.example.net")


def test_task_ids_come_from_the_factory(fake_openapi: FakeOpenApi) -> None:
    odd = "2024/11/28:Zm9v+YmFy="
    fake_openapi.task_id_factory = lambda: odd
    assert result(refresh(fake_openapi, "url", [URL]))["taskId"] == odd
    assert result(query(fake_openapi, [odd]))["tasks"][0]["taskId"] == odd
    one = result(call(fake_openapi, "/v1/task/" + quote(odd, safe=""), method="GET"))
    assert one["task"]["taskId"] == odd
    assert_error(call(fake_openapi, "/v1/task/nope", method="GET"), 404, "NOT_FOUND")


def test_query_limit_counts_what_was_used(fake_openapi: FakeOpenApi) -> None:
    result(refresh(fake_openapi, "url", [URL + "a", URL + "b"]))
    result(refresh(fake_openapi, "dir", [URL]))
    limits = result(call(fake_openapi, "/v1/task:queryLimit", {}))
    assert (limits["refreshCount"], limits["dirCount"], limits["prefetchCount"]) == \
        (1998, 49, 2000)


# -- queryRefreshTaskByIds and task progression -------------------------------------------
def test_query_by_ids_takes_at_most_ten(fake_openapi: FakeOpenApi) -> None:
    ids = [result(refresh(fake_openapi, "url", [f"{URL}{n}.html"]))["taskId"]
           for n in range(11)]
    assert len(result(query(fake_openapi, ids[:10]))["tasks"]) == 10
    assert_error(query(fake_openapi, ids), 400, "INVALID_ARGUMENT", "at most 10")
    assert_error(query(fake_openapi, []), 400, "INVALID_ARGUMENT")
    assert_error(call(fake_openapi, "/v1/task:queryByIds", {"taskIds": "x"}), 400,
                 "INVALID_ARGUMENT")
    assert result(query(fake_openapi, ["unknown", ids[0]]))["tasks"][0]["taskId"] == ids[0]


def test_slow_and_failing_urls(fake_openapi: FakeOpenApi) -> None:
    slow, bad, good = URL + "slow.js", URL + "bad.js", URL + "good.js"
    fake_openapi.slow_instances[slow] = 2
    fake_openapi.fail_instances.add(bad)
    task_id = result(refresh(fake_openapi, "url", [slow, bad, good]))["taskId"]
    assert fake_openapi.task_of(bad).task_id == task_id

    def poll() -> dict[str, Any]:
        (task,) = result(query(fake_openapi, [task_id]))["tasks"]
        return task

    for _ in range(2):
        task = poll()
        assert task["taskStatus"] == "running"
        assert {u["url"]: u["status"] for u in task["urlTasks"]} == \
            {slow: "running", bad: "failed", good: "success"}
    task = poll()
    assert task["taskStatus"] == "failed"
    assert {u["url"]: u["status"] for u in task["urlTasks"]} == \
        {slow: "success", bad: "failed", good: "success"}
    assert (task["success"], task["failed"]) == (66.67, 33.33)
    assert task["taskType"] == "url"
    dt.datetime.strptime(task["createDate"], "%Y-%m-%d %H:%M:%S")


def test_url_tasks_can_spell_omit_or_hold_back_urls(fake_openapi: FakeOpenApi) -> None:
    encoded, slow, gone = URL + "%E6%96%87%E6%A1%A3.html", URL + "slow.js", URL + "gone.js"
    fake_openapi.url_spelling = unquote
    fake_openapi.unlisted_instances.add(gone)
    fake_openapi.list_running = False
    fake_openapi.slow_instances[slow] = 1
    task_id = result(refresh(fake_openapi, "url", [encoded, slow, gone]))["taskId"]

    first, second = (result(query(fake_openapi, [task_id]))["tasks"][0] for _ in range(2))
    assert first["taskStatus"] == "running"
    assert {u["url"]: u["status"] for u in first["urlTasks"]} == {URL + "文档.html": "success"}
    assert second["taskStatus"] == "success"
    assert {u["url"]: u["status"] for u in second["urlTasks"]} == \
        {URL + "文档.html": "success", slow: "success"}


def test_task_script_by_type(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.task_script["dir"] = (1, "failed")
    task_id = result(refresh(fake_openapi, "dir", [URL]))["taskId"]
    statuses = [result(query(fake_openapi, [task_id]))["tasks"][0]["taskStatus"]
                for _ in range(2)]
    assert statuses == ["running", "failed"]
    prefetch = result(refresh(fake_openapi, "prefetch", [URL + "a.js"]))["taskId"]
    assert result(query(fake_openapi, [prefetch]))["tasks"][0]["taskStatus"] == "success"
    assert fake_openapi.prefetched() == [[URL + "a.js"]]
    assert fake_openapi.task_of(URL, "dir").task_id == task_id


# -- faults ----------------------------------------------------------------------------------
def test_scripted_faults_are_served_in_order(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.script(
        "/v1/task",
        Fault("http", code=503, headers={"Retry-After": "2"}, body="busy"),
        Fault("html"),
        ErrorFault(code=429, headers={"Retry-After": "1"}),
        Fault("jd", code=500, body="internal error"),
        ErrorFault(code=400, name="TASK_LIMIT", message="quota \x1b[31m"),
        Fault("reset"),
    )
    first = refresh(fake_openapi, "url", [URL])
    assert (first.status_code, first.headers["Retry-After"], first.text) == (503, "2", "busy")
    html = refresh(fake_openapi, "url", [URL])
    assert html.status_code == 200 and html.headers["Content-Type"] == "text/html"
    limited = refresh(fake_openapi, "url", [URL])
    assert_error(limited, 429, "TOO_MANY_REQUESTS")
    assert limited.headers["Retry-After"] == "1"
    assert_error(refresh(fake_openapi, "url", [URL]), 500, "INTERNAL", "internal error")
    assert_error(refresh(fake_openapi, "url", [URL]), 400, "TASK_LIMIT", "quota \x1b[31m")
    with pytest.raises(requests.ConnectionError):
        refresh(fake_openapi, "url", [URL])
    result(refresh(fake_openapi, "url", [URL]))
    recorded = fake_openapi.requests()
    assert [c.answer if isinstance(c.answer, str) else c.code for c in recorded] == \
        ["http 503", "html", 429, 500, 400, "reset", 200]
    assert all(c.request_id for c in recorded if isinstance(c.answer, dict))


def test_a_sleep_fault_times_the_client_out_then_answers(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.script("/v1/task:queryByIds", Fault("sleep", seconds=0.5))
    with pytest.raises(requests.Timeout):
        call(fake_openapi, "/v1/task:queryByIds", {"taskIds": ["a"]}, timeout=0.1)
    assert result(query(fake_openapi, ["a"])) == {"tasks": []}


def test_the_host_can_die(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.die_after = 1
    result(refresh(fake_openapi, "url", [URL]))
    with pytest.raises(requests.ConnectionError):
        refresh(fake_openapi, "url", [URL], timeout=2)
    assert len(fake_openapi.requests()) == 1
