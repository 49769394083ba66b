"""JD Cloud OpenAPI request signing: JDCLOUD2-HMAC-SHA256, with the standard library only.

JD's SDKs bring their own HTTP stacks and many dependencies; the signature itself is a few
HMACs (a SigV4 variant), so it is written out here where it can be read and tested against
JD's published vectors. Every function is pure: the date and nonce are inputs, which is
what makes a signature reproducible in tests and checkable by a fake server.

The canonical request (lines joined by ``\\n``)::

    METHOD
    /path/exactly/as/sent          (``/v1/task:queryByIds``: the colon is not encoded)
    k=v&k=v                        (query pairs sorted; empty for the CDN calls)
    name:value\\n...               (signed headers, lower-case names, trimmed values, sorted)
    name;name;...                  (the signed header names)
    hex(sha256(body))

is hashed into the string to sign, which is signed with a key derived from the secret, the
day, the region, the service and ``jdcloud2_request``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

ALGORITHM = "JDCLOUD2-HMAC-SHA256"
TERMINATOR = "jdcloud2_request"
SERVICE = "cdn"
#: CDN calls carry no regionId; JD's SDKs then sign with this region.
REGION = "jdcloud-api"
DATE_HEADER = "x-jdcloud-date"
NONCE_HEADER = "x-jdcloud-nonce"
TOKEN_HEADER = "x-jdcloud-security-token"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: Signed when present, in this order of preference (the canonical order is sorted anyway).
DEFAULT_SIGNED = ("content-type", "host", DATE_HEADER, NONCE_HEADER, TOKEN_HEADER)
#: Proxies and HTTP libraries may rewrite these, so a signature over them would break.
NEVER_SIGNED = frozenset({"authorization", "user-agent"})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(query: str) -> str:
    """The raw query's ``k=v`` pairs sorted and ``&``-joined, kept as sent.

    The pairs are not decoded and re-encoded: the CDN calls have no query, and a server
    checking the signature sees the same raw text the client signed.
    """
    if not query:
        return ""
    pairs = [p if "=" in p else p + "=" for p in query.split("&") if p]
    return "&".join(sorted(pairs))


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased (HTTP names are case-insensitive), values trimmed."""
    return {name.lower(): value.strip() for name, value in headers.items()}


def default_signed_names(headers: Mapping[str, str]) -> list[str]:
    """The headers JD's rule signs, among those the request has: content-type, host, the
    date, the nonce, and the security token when one is sent."""
    present = lower_headers(headers)
    return sorted(name for name in DEFAULT_SIGNED if name in present)


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str],
                      signed_names: Sequence[str], body: bytes) -> str:
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
    return "\n".join([method.upper(), path or "/", canonical_query(query), header_block,
                      ";".join(names), sha256_hex(body)])


def credential_scope(date: str, region: str = REGION, service: str = SERVICE) -> str:
    """``YYYYMMDD/region/service/jdcloud2_request`` for an ``x-jdcloud-date`` value."""
    return f"{date[:8]}/{region}/{service}/{TERMINATOR}"


def string_to_sign(date: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{date}\n{scope}\n{sha256_hex(canonical.encode('utf-8'))}"


def signing_key(secret: str, day: str, region: str = REGION, service: str = SERVICE) -> bytes:
    """The key for one day, region and service: the secret itself never signs anything."""
    key = _hmac(("JDCLOUD2" + secret).encode("utf-8"), day)
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


def sign_request(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                 access_key_id: str, access_key_secret: str, *, service: str = SERVICE,
                 region: str = REGION, signed_header_names: Sequence[str] | None = None
                 ) -> str:
    """The ``Authorization`` value for a request; its date is its ``x-jdcloud-date`` header.

    ``signed_header_names`` defaults to JD's rule (:func:`default_signed_names`).
    """
    values = lower_headers(headers)
    date = values.get(DATE_HEADER)
    if not date:
        raise ValueError(f"the request has no {DATE_HEADER} header")
    names = list(signed_header_names) if signed_header_names is not None \
        else default_signed_names(values)
    canonical = canonical_request(method, path, query, values, names, body)
    signature_hex = signature(access_key_secret, date, canonical, region=region,
                              service=service)
    return authorization(access_key_id, credential_scope(date, region, service), names,
                         signature_hex)


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


def signed_headers(method: str, url: str, body: bytes, access_key_id: str,
                   access_key_secret: str, token: str | None = None,
                   now: dt.datetime | None = None, nonce: str | None = None) -> dict[str, str]:
    """Every header a JSON CDN call needs, signed: send exactly these (Host included, so
    the HTTP library cannot send a different one than was signed).

    A new date and nonce are taken for each call: a retry must be signed again.
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
    headers["Authorization"] = sign_request(method, parts.path or "/", parts.query, headers,
                                            body, access_key_id, access_key_secret)
    return headers
