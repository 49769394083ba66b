"""One setting's value: its raw string checked and turned into what the run uses.

Booleans, numbers within the table's range, the signature's timezone, the base URLs and
the API's endpoint, list items and credentials. Each refusal is one ``InputError`` line
that names the setting and says how to fix it, and never shows a secret: a credential is
named by the code point it should not hold, a URL with its password as ``***``.
``settings`` puts the values together.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from jdcdn_action.exceptions import InputError
from jdcdn_action.redaction import hide_userinfo
from jdcdn_action.settings_table import BY_NAME, CREDENTIALS

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
LOOPBACK_NAMES = {"localhost"}
OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}


def check_credentials(raw: Mapping[str, str]) -> None:
    """Every credential set is printable ASCII without spaces (see ``check_credential``)."""
    for name in CREDENTIALS:
        check_credential(name, raw[name])


def check_credential(name: str, value: str) -> None:
    """Refuse a credential holding a character outside printable ASCII, or a space: JD
    issues none such, so it was pasted along (a zero-width space, a curly quote, a
    no-break space, a line break). Such a character breaks the signature or the HTTP
    header it goes in, so nothing is sent. The message names the setting and the
    character's code point, never the value."""
    for index, char in enumerate(value):
        if "\x21" <= char <= "\x7e":
            continue
        import unicodedata

        what = CONTROL_NAMES.get(char) or unicodedata.name(char, "a control character")
        where = ("at its end" if index == len(value) - 1 else "at its start" if index == 0
                 else "inside it")
        raise InputError(
            f"{name}: the value holds U+{ord(char):04X} ({what}) {where}, which no "
            "credential has (they are printable ASCII without spaces): it was likely pasted "
            f"along; set the secret or variable that gives {name} again, typed or copied "
            "as plain text. Nothing was sent.")


def split_lines(text: str) -> list[str]:
    """One item per line (lines end at ``\\n`` or ``\\r\\n`` only); blank lines and
    surrounding spaces dropped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def list_setting(name: str, text: str) -> list[str]:
    """A list setting's items; the word ``none`` empties one whose default is not empty
    (an empty value cannot: the first non-empty spelling, then the default, wins)."""
    items = split_lines(text)
    if BY_NAME[name].default and [item.lower() for item in items] == ["none"]:
        return []
    return items


def is_true(value: str) -> bool:
    """A boolean word meaning true (any case, spaces ignored); anything else is not."""
    return value.strip().lower() in TRUE_WORDS


def parse_bool(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InputError(f"{name}: {value!r} is not a boolean; use true or false.")


def parse_int(name: str, value: str, minimum: int, maximum: int | None = None) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise InputError(f"{name}: {value!r} is not a whole number.") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and {maximum}" if maximum is not None else " or more"
        between = f"between {minimum}{upper}" if maximum is not None else f"{minimum}{upper}"
        raise InputError(f"{name}: {number} is out of range; use {between}.")
    return number


def parse_float(name: str, value: str, minimum: float, maximum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{name}: {value!r} is not a number of seconds.") from None
    if not (minimum <= number <= maximum):  # also refuses nan
        raise InputError(f"{name}: {value} is out of range; use {minimum:g} to {maximum:g}.")
    return number


def parse_timezone(value: str) -> tuple[dt.tzinfo, str]:
    """A ``+HH:MM`` offset (no tz database needed), ``UTC``, or an IANA name."""
    match = OFFSET_RE.match(value)
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        if delta > dt.timedelta(hours=14) or int(minutes) >= 60:
            raise InputError(f"signature-timezone: {value!r} is not a valid UTC offset.")
        return dt.timezone(-delta if sign == "-" else delta), value
    if value.upper() in {"UTC", "Z", "GMT"}:
        return dt.UTC, "UTC"
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value), value
    except Exception:  # ValueError, ZoneInfoNotFoundError, and odd keys alike
        raise InputError(
            f"signature-timezone: {value!r} is not a +HH:MM offset or a known IANA timezone "
            "name; use e.g. +08:00."
        ) from None


def refuse_user_info(name: str, value: str) -> None:
    """A URL setting with ``user:password@`` is refused, shown with that part as ``***``:
    requests would send them as an ``Authorization: Basic`` header, in place of the
    signature, to that host, and every message and the report would show the URL."""
    shown = hide_userinfo(value)
    if shown != value:
        raise InputError(f"{name}: {shown!r} must not contain a user name or "
                         "password (user:password@): they would be sent to that host and "
                         "printed; remove them.")


def parse_base_url(value: str) -> str:
    """Validate one base URL and return it ending in ``/`` (its path is a prefix)."""
    refuse_user_info("base-url", value)
    parts = urlsplit(value)
    shown = repr(hide_userinfo(value))
    if parts.scheme.lower() not in {"http", "https"}:
        raise InputError(f"base-url: {shown} must start with http:// or https://.")
    if not parts.hostname:
        raise InputError(f"base-url: {shown} has no host name.")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise InputError(f"base-url: {shown} must not have a query or fragment.")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise InputError(f"base-url: {shown} contains spaces or control characters.")
    try:
        _ = parts.port
    except ValueError:
        raise InputError(f"base-url: {shown} has an invalid port.") from None
    from jdcdn_action.urls import encode_absolute_url

    url = encode_absolute_url(value)
    return url if url.endswith("/") else url + "/"


def parse_index_file(value: str) -> str:
    if "/" in value or value in {".", ".."}:
        raise InputError(f"index-files: {value!r} must be a file name without '/'.")
    return value


def parse_endpoint(value: str) -> str:
    refuse_user_info("api-endpoint", value)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    shown = repr(hide_userinfo(value))
    if scheme not in {"http", "https"} or not parts.hostname:
        raise InputError(f"api-endpoint: {shown} must be an https:// URL.")
    if parts.query or parts.fragment:
        raise InputError(f"api-endpoint: {shown} must not have a query or fragment.")
    if scheme == "http" and not is_loopback(parts.hostname):
        raise InputError(
            f"api-endpoint: {shown} uses plain http to a non-loopback host, which would "
            "expose the signature; use https://."
        )
    return value.rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
