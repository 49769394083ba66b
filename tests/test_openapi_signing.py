"""JDCLOUD3-HMAC-SHA256 as jdcloud-sdk 1.6.354 signs it: every vector of the SDK's own
signer_test.py, the project's calls against signatures the SDK computed once (both kept as
data in tests/data, so no test depends on the SDK), and the properties the calls need."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from jdcdn_action.api.openapi import OpenApi
from jdcdn_action.api.openapi_signing import (
    canonical_query,
    canonical_request,
    canonical_uri,
    credential_scope,
    default_signed_names,
    host_header,
    sign,
    sign_request,
    signed_headers,
    signing_key,
    string_to_sign,
)
from tests.fake_openapi import FakeOpenApi
from tests.helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN

DATA = Path(__file__).parent / "data"
SDK_TESTS = json.loads((DATA / "jdcloud_sdk_signer_test.json").read_text("utf-8"))
SDK_CALLS = json.loads((DATA / "openapi_signatures.json").read_text("utf-8"))
NOW = dt.datetime(2024, 11, 28, 9, 30, 5, tzinfo=dt.UTC)
AK, SK = "JDC_0123456789ABCDEF", "test-secret-0123456789"
ENDPOINT = "https://cdn.jdcloud-api.com"


def signature_of(authorization: str) -> str:
    return authorization.rsplit("Signature=", 1)[1]


def signed_names_of(authorization: str) -> list[str]:
    return authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")


# -- JD's vectors ----------------------------------------------------------------------------
@pytest.mark.parametrize("vector", SDK_TESTS["vectors"], ids=lambda v: v["name"])
def test_every_vector_of_the_sdks_signer_test(vector: dict[str, Any]) -> None:
    headers = vector["headers"] | {"host": vector["host"]}
    value = sign_request(vector["method"], vector["path"], vector["query"], headers,
                         vector["body"].encode("utf-8"), SDK_TESTS["access_key"],
                         SDK_TESTS["secret_key"], region=vector["region"],
                         service=vector["service"])
    assert value == vector["authorization"]


def test_the_sdk_vectors_are_all_there() -> None:
    """signer_test.py has 24 tests; the data must not lose any of its kinds."""
    names = [v["name"] for v in SDK_TESTS["vectors"]]
    assert len(set(names)) == len(names) == 24
    paths = "".join(v["path"] for v in SDK_TESTS["vectors"])
    for needle in ("中文", ":", "+", " ", "%2F", "//", "%2b%f"):
        assert needle in paths
    assert any(isinstance(v["query"], dict) for v in SDK_TESTS["vectors"])
    assert any(isinstance(v["headers"]["x-jdcloud-nonce"], list) for v in SDK_TESTS["vectors"])


@pytest.mark.parametrize("vector", SDK_CALLS["vectors"], ids=lambda v: v["name"])
def test_each_call_is_signed_as_jdcloud_sdk_signs_it(vector: dict[str, Any]) -> None:
    now = dt.datetime.strptime(SDK_CALLS["date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    signed = sign(vector["method"], vector["url"], vector["body"].encode("utf-8"),
                  SDK_CALLS["access_key"], SDK_CALLS["secret_key"], vector["token"], now=now,
                  nonce=SDK_CALLS["nonce"])
    assert signed.canonical_request == vector["canonical_request"]
    assert signed.string_to_sign == vector["string_to_sign"]
    assert signed.headers["Authorization"] == vector["authorization"]
    sent = {k.lower(): v for k, v in signed.headers.items()}
    assert sent.pop("content-type") == "application/json"
    assert sent.pop("x-jdcloud-date") == SDK_CALLS["date"]
    assert sent.pop("x-jdcloud-nonce") == SDK_CALLS["nonce"]
    assert sent.pop("x-jdcloud-security-token", None) == vector["token"]  # as issued
    assert f"\nhost:{sent.pop('host')}\n" in vector["canonical_request"]
    assert set(sent) == {"authorization"}


def test_the_sdk_calls_cover_each_operation_with_and_without_a_token() -> None:
    covered = {(v["method"], v["url"].rsplit("/v1/", 1)[1], v["token"] is not None)
               for v in SDK_CALLS["vectors"]}
    for operation in (("POST", "task"), ("POST", "task:queryByIds"), ("GET", "user:quota")):
        assert {(*operation, False), (*operation, True)} <= covered
    bodies = [v["body"] for v in SDK_CALLS["vectors"]]
    assert any("%E4%B8%AD" in b for b in bodies) and any("中文" in b for b in bodies)
    assert any(not v["url"].isascii() for v in SDK_CALLS["vectors"])


# -- the pieces ------------------------------------------------------------------------------
def test_pieces_follow_the_documented_layout() -> None:
    headers = {"Content-Type": " application/json ", "Host": "cdn.jdcloud-api.com",
               "x-jdcloud-date": "20241128T093005Z", "x-jdcloud-nonce": "n-1"}
    canonical = canonical_request("post", "/v1/task:queryByIds", "", headers,
                                  default_signed_names(headers), b"{}")
    assert canonical.split("\n") == [
        "POST", "/v1/task%3AqueryByIds", "",
        "content-type:application/json", "host:cdn.jdcloud-api.com",
        "x-jdcloud-date:20241128T093005Z", "x-jdcloud-nonce:n-1", "",
        "content-type;host;x-jdcloud-date;x-jdcloud-nonce",
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",  # sha256("{}")
    ]
    scope = credential_scope("20241128T093005Z")
    assert scope == "20241128/jdcloud-api/cdn/jdcloud3_request"
    assert string_to_sign("20241128T093005Z", scope, canonical).split("\n")[:3] == \
        ["JDCLOUD3-HMAC-SHA256", "20241128T093005Z", scope]
    assert len(signing_key(SK, "20241128")) == 32
    assert signing_key(SK, "20241128") != signing_key(SK, "20241129")


@pytest.mark.parametrize(("path", "canonical"), [
    ("/v1/task:queryByIds", "/v1/task%3AqueryByIds"),
    ("/v1/task%3AqueryByIds", "/v1/task%3AqueryByIds"),
    ("/v1/user:quota", "/v1/user%3Aquota"),
    ("/v1/task", "/v1/task"),
    ("", "/"),
    ("v1", "/v1"),
    ("//v1///task//", "/v1/task/"),
    ("/v1%2F%2Ftask", "/v1/task"),
    ("/a+b%20c%2B", "/a%20b%20c%2B"),
    ("/中文/%E6%96%87", "/%E4%B8%AD%E6%96%87/%E6%96%87"),
    ("/-_.~!*'()", "/-_.~%21%2A%27%28%29"),
    ("/%zz/%2", "/%25zz/%252"),
    ("/%ff", "/%EF%BF%BD"),  # not UTF-8: decoded to U+FFFD, as unquote_plus does
])
def test_the_canonical_uri(path: str, canonical: str) -> None:
    assert canonical_uri(path) == canonical


@pytest.mark.parametrize(("query", "canonical"), [
    ("", ""),
    ("b=2&a=1&a=0", "a=0&a=1&b=2"),
    ("flag&=x&a=", "a="),  # no "=" or an empty key: left out, as the SDK does
    ("k=a+b%2B&k2=%3D", "k=a%20b%2B&k2=%3D"),
    ("a-b=1&a=2", "a=2&a-b=1"),  # by key, then by value
    ("中=值", "%E4%B8%AD=%E5%80%BC"),
    ({"b": "x y", "": "dropped", "a": "&="}, "a=%26%3D&b=x%20y"),
])
def test_the_canonical_query(query: Any, canonical: str) -> None:
    assert canonical_query(query) == canonical


# -- the calls -------------------------------------------------------------------------------
def test_a_cdn_call_gets_every_header_and_signs_the_documented_set() -> None:
    body = json.dumps({"taskType": "url", "urls": ["https://www.example.com/a b"]}).encode()
    headers = signed_headers("POST", ENDPOINT + "/v1/task", body, AK, SK, now=NOW,
                             nonce="1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == "cdn.jdcloud-api.com"
    assert headers["x-jdcloud-date"] == "20241128T093005Z"
    assert headers["x-jdcloud-nonce"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert "x-jdcloud-security-token" not in headers
    assert headers["Authorization"].startswith(
        f"JDCLOUD3-HMAC-SHA256 Credential={AK}/20241128/jdcloud-api/cdn/jdcloud3_request, ")
    assert signed_names_of(headers["Authorization"]) == \
        ["content-type", "host", "x-jdcloud-date", "x-jdcloud-nonce"]
    assert SK not in headers["Authorization"]


def test_a_get_signs_json_content_type_and_the_empty_body() -> None:
    signed = sign("GET", ENDPOINT + "/v1/user:quota", b"", AK, SK, now=NOW, nonce="n")
    assert signed.headers["Content-Type"] == "application/json"
    lines = signed.canonical_request.split("\n")
    assert lines[:2] == ["GET", "/v1/user%3Aquota"]
    assert lines[-1] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert "content-type:application/json" in lines


def test_the_colon_is_signed_encoded_and_sent_as_is() -> None:
    body = b'{"taskIds": ["a"]}'
    signed = sign("POST", ENDPOINT + "/v1/task:queryByIds", body, AK, SK, now=NOW, nonce="n")
    headers = signed.headers
    assert "\n/v1/task%3AqueryByIds\n" in signed.canonical_request
    encoded = sign_request("POST", "/v1/task%3AqueryByIds", "", headers, body, AK, SK)
    assert headers["Authorization"] == encoded
    # What a signer putting the raw colon in the canonical request would sign differs.
    raw = signed.canonical_request.replace("%3A", ":")
    assert string_to_sign(headers["x-jdcloud-date"], credential_scope("20241128"), raw) \
        != signed.string_to_sign


def test_a_security_token_is_sent_as_issued_and_signed() -> None:
    token = "sts+token/with==base64"
    headers = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK, token, now=NOW,
                             nonce="n")
    assert headers["x-jdcloud-security-token"] == token
    assert "x-jdcloud-security-token" in signed_names_of(headers["Authorization"])
    other = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK, token + "x",
                           now=NOW, nonce="n")
    assert signature_of(other["Authorization"]) != signature_of(headers["Authorization"])


@pytest.mark.parametrize(("url", "host"), [
    ("https://cdn.jdcloud-api.com/v1/task", "cdn.jdcloud-api.com"),
    ("https://CDN.jdcloud-api.com:443/v1/task", "cdn.jdcloud-api.com"),
    ("http://cdn.jdcloud-api.com:80/v1/task", "cdn.jdcloud-api.com"),
    ("http://127.0.0.1:8123/v1/task", "127.0.0.1:8123"),
    ("https://cdn.jdcloud-api.com:8443/v1/task", "cdn.jdcloud-api.com:8443"),
    ("http://[::1]:8123/v1/task", "[::1]:8123"),
])
def test_host_carries_the_port_only_when_not_80_or_443(url: str, host: str) -> None:
    assert host_header(url) == host
    headers = signed_headers("POST", url, b"{}", AK, SK, now=NOW, nonce="n")
    assert headers["Host"] == host
    assert headers["Authorization"] == sign_request(
        "POST", "/v1/task", "", {**headers, "Host": host}, b"{}", AK, SK)


def _base() -> dict[str, str]:
    return {"Content-Type": "application/json", "Host": "cdn.jdcloud-api.com",
            "x-jdcloud-date": "20241128T093005Z", "x-jdcloud-nonce": "n-1",
            "x-jdcloud-security-token": "tok"}


@pytest.mark.parametrize("change", [
    {"path": "/v1/task:queryByIds"},
    {"path": "/v1/task/"},
    {"body": b'{"taskType": "dir", "urls": []}'},
    {"query": "a=1"},
    {"method": "PUT"},
    {"header": ("Content-Type", "application/json; charset=utf-8")},
    {"header": ("Host", "cdn.jdcloud-api.com:8443")},
    {"header": ("x-jdcloud-date", "20241128T093006Z")},
    {"header": ("x-jdcloud-nonce", "n-2")},
    {"header": ("x-jdcloud-security-token", "tok2")},
    {"secret": SK + "x"},
])
def test_the_signature_changes_with_every_signed_part(change: dict) -> None:
    base = {"method": "POST", "path": "/v1/task", "query": "", "body": b'{"taskType": "url"}',
            "secret": SK}

    def sign_with(parts: dict, headers: dict[str, str]) -> str:
        return sign_request(parts["method"], parts["path"], parts["query"], headers,
                            parts["body"], AK, parts["secret"])

    headers = _base()
    changed_headers = dict(headers)
    if "header" in change:
        name, value = change["header"]
        changed_headers[name] = value
    changed = base | {k: v for k, v in change.items() if k != "header"}
    assert sign_with(base, headers) != sign_with(changed, changed_headers)


def test_authorization_and_user_agent_are_never_signed() -> None:
    headers = _base() | {"User-Agent": "jdcdn-action/1", "Authorization": "old"}
    value = sign_request("POST", "/v1/task", "", headers, b"{}", AK, SK)
    assert signed_names_of(value) == ["content-type", "host", "x-jdcloud-date",
                                      "x-jdcloud-nonce", "x-jdcloud-security-token"]
    changed = headers | {"User-Agent": "other/2", "Authorization": "new"}
    assert sign_request("POST", "/v1/task", "", changed, b"{}", AK, SK) == value
    for name in ("authorization", "User-Agent"):
        with pytest.raises(ValueError, match="never be signed"):
            sign_request("POST", "/v1/task", "", headers, b"{}", AK, SK,
                         signed_header_names=["host", "x-jdcloud-date", name])


def test_a_named_header_must_be_in_the_request_and_the_date_is_required() -> None:
    with pytest.raises(ValueError, match="not in the request: x-extra"):
        sign_request("POST", "/v1/task", "", _base(), b"{}", AK, SK,
                     signed_header_names=["host", "x-extra"])
    without_date = {k: v for k, v in _base().items() if k != "x-jdcloud-date"}
    with pytest.raises(ValueError, match="x-jdcloud-date"):
        sign_request("POST", "/v1/task", "", without_date, b"{}", AK, SK)


def test_each_call_gets_a_fresh_nonce_and_the_current_date() -> None:
    first = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK)
    second = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK)
    assert first["x-jdcloud-nonce"] != second["x-jdcloud-nonce"]
    taken = dt.datetime.strptime(first["x-jdcloud-date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - taken).total_seconds()) < 60


# -- debug -----------------------------------------------------------------------------------
def test_the_debug_text_is_what_the_sdk_logs_with_the_token_hidden() -> None:
    vector = next(v for v in SDK_CALLS["vectors"]
                  if v["url"].endswith("/v1/task:queryByIds") and v["token"])
    now = dt.datetime.strptime(SDK_CALLS["date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    signed = sign("POST", vector["url"], vector["body"].encode(), SDK_CALLS["access_key"],
                  SDK_CALLS["secret_key"], vector["token"], now=now, nonce=SDK_CALLS["nonce"])
    text = signed.for_debug()
    masked = vector["canonical_request"].replace(vector["token"], "***")
    assert text == f"canonical request:\n{masked}\nstring to sign:\n{vector['string_to_sign']}"
    assert "x-jdcloud-security-token:***\n" in text
    for secret in (vector["token"], SDK_CALLS["secret_key"], "Signature",
                   signature_of(vector["authorization"])):
        assert secret not in text
    plain = sign("GET", ENDPOINT + "/v1/user:quota", b"", AK, SK, now=NOW, nonce="n")
    assert plain.for_debug() == (f"canonical request:\n{plain.canonical_request}\n"
                                 f"string to sign:\n{plain.string_to_sign}")


def test_the_backend_logs_what_it_signed_but_no_secret(fake_openapi: FakeOpenApi) -> None:
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    lines: list[str] = []
    masked: list[str] = []
    api = OpenApi(fake_openapi.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN,
                  on_debug=lines.append, on_signature=masked.append, max_attempts=1)
    try:
        submitted = api.submit("file", ["https://www.example.com/a.css"])
        assert submitted.ok, submitted
        assert api.query("refresh", [submitted.value.task_id]).ok
    finally:
        api.close()
    log = "\n".join(lines)
    assert log.count("canonical request:\nPOST\n") == 2
    assert "\n/v1/task%3AqueryByIds\n" in log and "\n/v1/task\n" in log
    assert log.count("x-jdcloud-security-token:***\n") == 2
    assert log.count("string to sign:\nJDCLOUD3-HMAC-SHA256\n") == 2
    seen = [c.headers["Authorization"] for c in fake_openapi.calls]
    assert len(masked) == len(seen) == 2
    for secret in (ACCESS_KEY_SECRET, SECURITY_TOKEN, "Signature=", *masked, *seen):
        assert secret not in log
