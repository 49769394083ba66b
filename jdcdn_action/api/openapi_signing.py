"""JD Cloud OpenAPI request signing: JDCLOUD3-HMAC-SHA256, with the standard library only.

JD's SDKs bring their own HTTP stacks and many dependencies; the signature itself is a few
HMACs (a SigV4 variant), so it is written out here where it can be read and tested against
JD's published vectors. It follows JD's Python SDK (``jdcloud-sdk`` 1.6.354,
``Signer.signV3``) rule for rule, because what JD's own SDK sends is what the gateway is
known to accept. Every function is pure: the date and nonce are inputs, which is what makes
a signature reproducible in tests and checkable by a fake server.

The canonical request (lines joined by ``\\n``)::

    METHOD
    /v1/task%3AqueryByIds          (the path decoded, ``//`` collapsed, re-encoded: see
                                    canonical_uri; on the wire it stays ``task:queryByIds``)
    k=v&k=v                        (query pairs decoded, re-encoded, sorted)
    name:value\\n...               (signed headers, lower-case names, trimmed values, sorted)
    name;name;...                  (the signed header names)
    hex(sha256(body))              (of the empty string for a GET)

is hashed into the string to sign, which is signed with a key derived from
``"JDCLOUD3" + secret``, the day, the region, the service and ``jdcloud3_request``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlsplit

ALGORITHM = "JDCLOUD3-HMAC-SHA256"
KEY_PREFIX = "JDCLOUD3"
TERMINATOR = "jdcloud3_request"
SERVICE = "cdn"
#: CDN calls carry no regionId; JD's SDKs then sign with this region.
REGION = "jdcloud-api"
DATE_HEADER = "x-jdcloud-date"
NONCE_HEADER = "x-jdcloud-nonce"
TOKEN_HEADER = "x-jdcloud-security-token"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: Signed when present (the canonical order is sorted anyway).
DEFAULT_SIGNED = ("content-type", "host", DATE_HEADER, NONCE_HEADER, TOKEN_HEADER)
#: Proxies and HTTP libraries may rewrite these, so a signature over them would break.
NEVER_SIGNED = frozenset({"authorization", "user-agent"})
#: What the debug text shows in place of the security token.
HIDDEN = "***"
_SLASHES = re.compile("/+")

HeaderValue = str | Sequence[str]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _encode(text: str, safe: str = "") -> str:
    """Percent-encode the UTF-8 bytes of ``text`` but unreserved characters (and ``safe``)."""
    return quote(text, safe=safe + "~")


def canonical_uri(path: str) -> str:
    """The path as JD signs it: decoded as ``unquote_plus`` does (``+`` is a space, a
    broken escape stays as it is, bytes that are not UTF-8 become U+FFFD), runs of ``/``
    collapsed, then every byte but unreserved characters and ``/`` percent-encoded, with a
    leading ``/``. So ``/v1/task:queryByIds`` is signed as ``/v1/task%3AqueryByIds``, and
    ``%2F`` is a slash like any other."""
    decoded = _SLASHES.sub("/", unquote_plus(path))
    if not decoded:
        return "/"
    encoded = _encode(decoded, "/")
    return encoded if encoded.startswith("/") else "/" + encoded


def canonical_query(query: str | Mapping[str, str]) -> str:
    """The query's pairs, each key and value decoded (``unquote_plus``) and re-encoded
    (everything but unreserved characters), sorted by key then value, ``&``-joined.

    As JD's SDK does: a pair with an empty key is left out, and so is a bare key without
    ``=`` in a raw query. ``query`` is the raw query text, or a mapping of parameters.
    """
    if isinstance(query, str):
        split = (part.split("=", 1) for part in query.split("&") if part)
        pairs = [(pair[0], pair[1]) for pair in split if len(pair) == 2]
    else:
        pairs = list(query.items())
    encoded = sorted((_encode(unquote_plus(key)), _encode(unquote_plus(value)))
                     for key, value in pairs)
    return "&".join(f"{key}={value}" for key, value in encoded if key)


def lower_headers(headers: Mapping[str, HeaderValue]) -> dict[str, str]:
    """Header names lower-cased (HTTP names are case-insensitive), values trimmed; a header
    received more than once is its trimmed values ``,``-joined."""
    return {name.lower(): value.strip() if isinstance(value, str)
            else ",".join(v.strip() for v in value) for name, value in headers.items()}


def default_signed_names(headers: Mapping[str, HeaderValue]) -> list[str]:
    """The headers JD's rule signs, among those the request has: content-type, host, the
    date, the nonce, and the security token when one is sent."""
    present = lower_headers(headers)
    return sorted(name for name in DEFAULT_SIGNED if name in present)


def canonical_request(method: str, path: str, query: str | Mapping[str, str],
                      headers: Mapping[str, HeaderValue], signed_names: Sequence[str],
                      body: bytes) -> str:
    """The text whose hash is signed. ``signed_names`` must all be in ``headers``."""
    values = lower_headers(headers)
    names = sorted({name.lower() for name in signed_names})
    forbidden = NEVER_SIGNED.intersection(names)
    if forbidden:
        raise ValueError(f"{', '.join(sorted(forbidden))} must never be signed")
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"signed headers not in the request: {', '.join(missing)}")
    header_block = "".join(f"{name}:{values[name]}\n" for name in names)
    return "\n".join([method.upper(), canonical_uri(path), canonical_query(query),
                      header_block, ";".join(names), sha256_hex(body)])


def credential_scope(date: str, region: str = REGION, service: str = SERVICE) -> str:
    """``YYYYMMDD/region/service/jdcloud3_request`` for an ``x-jdcloud-date`` value."""
    return f"{date[:8]}/{region}/{service}/{TERMINATOR}"


def string_to_sign(date: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{date}\n{scope}\n{sha256_hex(canonical.encode('utf-8'))}"


def signing_key(secret: str, day: str, region: str = REGION, service: str = SERVICE) -> bytes:
    """The key for one day, region and service: the secret itself never signs anything."""
    key = _hmac((KEY_PREFIX + secret).encode("utf-8"), day)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(secret: str, date: str, canonical: str, *, region: str = REGION,
              service: str = SERVICE) -> str:
    """The hex signature of a canonical request made at ``date`` (``x-jdcloud-date``)."""
    scope = credential_scope(date, region, service)
    key = signing_key(secret, date[:8], region, service)
    return hmac.new(key, string_to_sign(date, scope, canonical).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def authorization(access_key_id: str, scope: str, signed_names: Sequence[str],
                  signature_hex: str) -> str:
    names = ";".join(sorted({name.lower() for name in signed_names}))
    return (f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={names}, "
            f"Signature={signature_hex}")


@dataclass(frozen=True)
class SignedRequest:
    """A signed request: the headers to send, and what was signed, for a debug log."""

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str

    def for_debug(self) -> str:
        """The canonical request and the string to sign, as JD's SDK logs them, so a
        signature error can be compared with what the SDK would sign. The security token
        shows as ``***``; the key, the signature and Authorization are not in them."""
        token = lower_headers(self.headers).get(TOKEN_HEADER, "")
        text = (f"canonical request:\n{self.canonical_request}\n"
                f"string to sign:\n{self.string_to_sign}")
        return text.replace(token, HIDDEN) if token else text


def sign_parts(method: str, path: str, query: str | Mapping[str, str],
               headers: Mapping[str, HeaderValue], body: bytes, access_key_id: str,
               access_key_secret: str, *, service: str = SERVICE, region: str = REGION,
               signed_header_names: Sequence[str] | None = None
               ) -> tuple[str, str, str]:
    """(canonical request, string to sign, ``Authorization`` value) of a request; its date
    is its ``x-jdcloud-date`` header. ``signed_header_names`` defaults to JD's rule
    (:func:`default_signed_names`)."""
    values = lower_headers(headers)
    date = values.get(DATE_HEADER)
    if not date:
        raise ValueError(f"the request has no {DATE_HEADER} header")
    names = list(signed_header_names) if signed_header_names is not None \
        else default_signed_names(values)
    canonical = canonical_request(method, path, query, values, names, body)
    scope = credential_scope(date, region, service)
    signature_hex = signature(access_key_secret, date, canonical, region=region,
                              service=service)
    return (canonical, string_to_sign(date, scope, canonical),
            authorization(access_key_id, scope, names, signature_hex))


def sign_request(method: str, path: str, query: str | Mapping[str, str],
                 headers: Mapping[str, HeaderValue], body: bytes, access_key_id: str,
                 access_key_secret: str, *, service: str = SERVICE, region: str = REGION,
                 signed_header_names: Sequence[str] | None = None) -> str:
    """The ``Authorization`` value for a request (see :func:`sign_parts`)."""
    return sign_parts(method, path, query, headers, body, access_key_id, access_key_secret,
                      service=service, region=region,
                      signed_header_names=signed_header_names)[2]


def format_date(now: dt.datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC (``now`` must be timezone-aware)."""
    return now.astimezone(dt.UTC).strftime(DATE_FORMAT)


def host_header(url: str) -> str:
    """The Host a request to ``url`` carries: the port only when it is not 80 or 443."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    return host if port in (None, 80, 443) else f"{host}:{port}"


def sign(method: str, url: str, body: bytes, access_key_id: str, access_key_secret: str,
         token: str | None = None, *, now: dt.datetime | None = None,
         nonce: str | None = None) -> SignedRequest:
    """Sign a JSON CDN call to ``url`` (any method; a GET has the empty ``body``).

    The headers are every one the call needs: send exactly these (Host included, so the
    HTTP library cannot send a different one than was signed). ``Content-Type:
    application/json`` goes on a GET too, as JD's SDK sends it. The STS token is sent as
    issued and signed. A new date and nonce are taken for each call: a retry must be
    signed again.
    """
    parts = urlsplit(url)
    headers = {
        "Content-Type": "application/json",
        "Host": host_header(url),
        "x-jdcloud-date": format_date(now or dt.datetime.now(dt.UTC)),
        "x-jdcloud-nonce": nonce or str(uuid.uuid4()),
    }
    if token:
        headers["x-jdcloud-security-token"] = token
    canonical, to_sign, value = sign_parts(method, parts.path, parts.query, headers, body,
                                           access_key_id, access_key_secret)
    headers["Authorization"] = value
    return SignedRequest(headers, canonical, to_sign)


def signed_headers(method: str, url: str, body: bytes, access_key_id: str,
                   access_key_secret: str, token: str | None = None, *,
                   now: dt.datetime | None = None, nonce: str | None = None
                   ) -> dict[str, str]:
    """The headers of :func:`sign`, Authorization included."""
    return sign(method, url, body, access_key_id, access_key_secret, token, now=now,
                nonce=nonce).headers
