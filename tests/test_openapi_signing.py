"""JDCLOUD2-HMAC-SHA256: JD's two published vectors, and the properties the CDN calls need."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jdcdn_action.api.openapi_signing import (
    canonical_query,
    canonical_request,
    credential_scope,
    default_signed_names,
    host_header,
    sign_request,
    signed_headers,
    signing_key,
    string_to_sign,
)

NOW = dt.datetime(2024, 11, 28, 9, 30, 5, tzinfo=dt.UTC)
AK, SK = "JDC_0123456789ABCDEF", "test-secret-0123456789"
ENDPOINT = "https://cdn.jdcloud-api.com"


def signature_of(authorization: str) -> str:
    return authorization.rsplit("Signature=", 1)[1]


def signed_names_of(authorization: str) -> list[str]:
    return authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")


def test_cpp_signer_vector_signs_host() -> None:
    headers = {"Host": "vm.cn-north-1.jdcloud.net", "x-jdcloud-date": "20090213T233130Z",
               "x-jdcloud-nonce": "uuid"}
    value = sign_request("GET", "/", "", headers, b"", "ak", "sk", service="vm",
                         region="cn-north-1")
    assert value == (
        "JDCLOUD2-HMAC-SHA256 Credential=ak/20090213/cn-north-1/vm/jdcloud2_request, "
        "SignedHeaders=host;x-jdcloud-date;x-jdcloud-nonce, "
        "Signature=43a76892222031f847c00c56cac8d4d2dc179a4e75a37868d09a5300435f4054")


def test_go_signer_vector_with_query_and_unsigned_host() -> None:
    headers = {"Content-Type": "application/json", "X-Jdcloud-Date": "20190214T104514Z",
               "X-Jdcloud-Nonce": "test nonce", "Host": "test.jdcloud-api.com",
               "User-Agent": "JdcloudSdkGo/1.0"}
    value = sign_request(
        "PATCH", "/v1/region/cn-north-1/test",
        "filters.1.name=id&filters.1.values.1=v1&filters.1.values.2=v2", headers,
        b"this is body", "access key", "secret key", service="test", region="cn-north-1",
        signed_header_names=["content-type", "x-jdcloud-date", "x-jdcloud-nonce"])
    assert signature_of(value) == \
        "1912eba02012ce6eb482302bae29cfa8e721ad66c188c533f9070e69aad2c896"
    assert signed_names_of(value) == ["content-type", "x-jdcloud-date", "x-jdcloud-nonce"]


def test_pieces_follow_the_documented_layout() -> None:
    headers = {"Content-Type": " application/json ", "Host": "cdn.jdcloud-api.com",
               "x-jdcloud-date": "20241128T093005Z", "x-jdcloud-nonce": "n-1"}
    canonical = canonical_request("post", "/v1/task:queryByIds", "", headers,
                                  default_signed_names(headers), b"{}")
    assert canonical.split("\n") == [
        "POST", "/v1/task:queryByIds", "",
        "content-type:application/json", "host:cdn.jdcloud-api.com",
        "x-jdcloud-date:20241128T093005Z", "x-jdcloud-nonce:n-1", "",
        "content-type;host;x-jdcloud-date;x-jdcloud-nonce",
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",  # sha256("{}")
    ]
    scope = credential_scope("20241128T093005Z")
    assert scope == "20241128/jdcloud-api/cdn/jdcloud2_request"
    assert string_to_sign("20241128T093005Z", scope, canonical).split("\n")[:3] == \
        ["JDCLOUD2-HMAC-SHA256", "20241128T093005Z", scope]
    assert len(signing_key(SK, "20241128")) == 32
    assert signing_key(SK, "20241128") != signing_key(SK, "20241129")


def test_canonical_query_sorts_pairs_as_sent() -> None:
    assert canonical_query("") == ""
    assert canonical_query("b=2&a=1&a=0&flag") == "a=0&a=1&b=2&flag="


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
        f"JDCLOUD2-HMAC-SHA256 Credential={AK}/20241128/jdcloud-api/cdn/jdcloud2_request, ")
    assert signed_names_of(headers["Authorization"]) == \
        ["content-type", "host", "x-jdcloud-date", "x-jdcloud-nonce"]
    assert SK not in headers["Authorization"]


def test_the_colon_in_the_path_is_signed_as_is() -> None:
    body = b'{"taskIds": ["a"]}'
    plain = signed_headers("POST", ENDPOINT + "/v1/task:queryByIds", body, AK, SK,
                           now=NOW, nonce="n")
    expected = sign_request("POST", "/v1/task:queryByIds", "", plain, body, AK, SK)
    encoded = sign_request("POST", "/v1/task%3AqueryByIds", "", plain, body, AK, SK)
    assert plain["Authorization"] == expected != encoded


def test_a_security_token_is_sent_and_signed() -> None:
    headers = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK, token="tok-1",
                             now=NOW, nonce="n")
    assert headers["x-jdcloud-security-token"] == "tok-1"
    assert "x-jdcloud-security-token" in signed_names_of(headers["Authorization"])
    other = signed_headers("POST", ENDPOINT + "/v1/task", b"{}", AK, SK, token="tok-2",
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

    def sign(parts: dict, headers: dict[str, str]) -> str:
        return sign_request(parts["method"], parts["path"], parts["query"], headers,
                            parts["body"], AK, parts["secret"])

    headers = _base()
    changed_headers = dict(headers)
    if "header" in change:
        name, value = change["header"]
        changed_headers[name] = value
    changed = base | {k: v for k, v in change.items() if k != "header"}
    assert sign(base, headers) != sign(changed, changed_headers)


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
