"""Settings: one kebab-case name, three spellings (flag, ``INPUT_*``, ``JDCDN_*``).

Each setting is declared once, in ``settings_table``; this module reads and validates
them. The first non-empty value wins, then the default. Everything is validated before
anything is read from disk or sent, so a bad value ends the run with one line that names
the setting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import urlsplit

from jdcdn_action import __version__
from jdcdn_action.exceptions import InputError
from jdcdn_action.network import Network, load_network
from jdcdn_action.redaction import hide_userinfo
from jdcdn_action.settings_table import (
    BY_NAME,
    CREDENTIALS,
    LEGACY_ENDPOINT,
    OPENAPI_ENDPOINT,
    SETTINGS,
)

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
LOOPBACK_NAMES = {"localhost"}
OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class Settings:
    """Validated settings: the fields of the table's settings (``settings_table``), named
    with underscores, then what the run needs besides. Made only by ``load``: the defaults
    live in the table alone."""

    username: str
    secret_key: str
    base_urls: tuple[str, ...]
    paths: str
    paths_file: str
    git_diff: bool
    git_base: str
    git_head: str
    source_dir: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    index_files: tuple[str, ...]
    include_deleted: bool
    type: str
    dir_threshold: int
    max_urls: int
    max_dirs: int
    dry_run: bool
    fail_on_error: bool
    api_endpoint: str
    timeout: float
    max_attempts: int
    concurrency: int
    signature_timezone: dt.tzinfo
    wait: bool
    wait_timeout: float
    poll_interval: float
    prefetch: bool
    report_file: str
    verify: bool
    verify_timeout: float
    ca_bundle: str
    api: str  # the API chosen, never "auto": legacy or openapi
    access_key_id: str
    access_key_secret: str
    security_token: str
    # Not settings of the contract: where the run happens and how it is tuned.
    signature_timezone_name: str = "+08:00"
    arguments: tuple[str, ...] = ()
    dotenv_file: str = ""
    debug: bool = False
    backoff: float = 1.0
    network: Network = field(default_factory=Network)  # proxies and CA files (ca-bundle...)
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one InputError line, not usage text.

    argparse's own message repeats the words it did not know, and a mistyped flag's value
    may be a secret (``--secretkey VALUE``): only the flags are named, never a value.
    """

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            flags = [word.split("=", 1)[0] for word in words if word.startswith("-")]
            message = ("unknown option " + ", ".join(flags) if flags else
                       f"{len(words)} unexpected value{'s' if len(words) != 1 else ''}")
        raise InputError(f"command line: {message}; see jdcdn-refresh --help.")


def build_parser() -> argparse.ArgumentParser:
    """The command line, from the table: one flag per setting (``--no-`` for booleans)."""
    parser = _Parser(
        prog="jdcdn-refresh",
        allow_abbrev=False,  # --secret is not --secret-key: a flag is spelt out
        description=(
            "Refresh JD Cloud CDN caches. Every option can also be given as INPUT_<NAME> "
            "(GitHub Actions) or JDCDN_<NAME> (any CI); see the README."
        ),
    )
    parser.add_argument("entries", nargs="*", metavar="PATH_OR_URL",
                        help="site paths or absolute URLs to refresh (added to --paths)")
    for setting in SETTINGS:
        flag, dest = f"--{setting.name}", setting.dest
        text = setting.help.replace("`", "") + (
            f" (default: {setting.default})" if setting.default else "")
        if setting.kind == "bool":
            group = parser.add_mutually_exclusive_group()
            group.add_argument(flag, dest=dest, action="store_const", const="true", help=text)
            group.add_argument(f"--no-{setting.name}", dest=dest, action="store_const",
                               const="false", help=f"the opposite of {flag}")
        elif setting.kind in ("list", "text"):
            # Repeated, the values add up: one item (or paths text) per flag.
            parser.add_argument(flag, dest=dest, action="append", metavar="VALUE", help=text)
        else:
            parser.add_argument(flag, dest=dest, metavar="VALUE", help=text)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and call details")
    parser.add_argument("--version", action="version", version=f"jdcdn-refresh {__version__}")
    return parser


def raw_values(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[dict[str, str], list[str], bool]:
    """Return each setting's winning raw string (trimmed), the positional entries, --debug."""
    args = build_parser().parse_args(list(argv))
    values: dict[str, str] = {}
    for setting in SETTINGS:
        flag = getattr(args, setting.dest)
        if isinstance(flag, list):
            flag = "\n".join(flag)
        candidates = (flag, env.get(setting.input_variable), env.get(setting.env_variable))
        values[setting.name] = next((c.strip() for c in candidates if c and c.strip()),
                                    setting.default)
    return values, list(args.entries), bool(args.debug)


def convert(name: str, value: str) -> object:
    """A bool, number or choice setting's value, checked against the table."""
    setting = BY_NAME[name]
    if setting.kind == "bool":
        return parse_bool(name, value)
    if setting.kind == "int":
        return parse_int(name, value, int(setting.minimum or 0),
                         None if setting.maximum is None else int(setting.maximum))
    if setting.kind == "float":
        return parse_float(name, value, setting.minimum or 0.0, setting.maximum or 0.0)
    if setting.kind == "choice":
        if value.lower() not in setting.choices:
            raise InputError(f"{name}: {value!r} is not one of {', '.join(setting.choices)}.")
        return value.lower()
    raise TypeError(f"{name} is a {setting.kind} setting")


def load(argv: Sequence[str], env: Mapping[str, str]) -> Settings:
    """Read and validate every setting. Raises InputError naming the setting at fault."""
    raw, arguments, debug_flag = raw_values(argv, env)
    check_credentials(raw)
    debug = debug_flag or env.get("RUNNER_DEBUG") == "1" or _is_true(env.get("JDCDN_DEBUG", ""))
    tz, tz_name = parse_timezone(raw["signature-timezone"])
    report_file = raw["report-file"]
    if not report_file:
        runner_temp = env.get("RUNNER_TEMP", "")
        report_file = os.path.join(runner_temp, "jdcdn-report.json") if runner_temp else (
            "jdcdn-report.json")
    if os.path.isdir(report_file):
        raise InputError(f"report-file: {report_file!r} is a directory; name a file in it.")
    dotenv = env.get("JDCDN_DOTENV", "").strip()
    if not dotenv and env.get("GITLAB_CI", "").lower() == "true":
        dotenv = "jdcdn.env"
    converted = {setting.dest: convert(setting.name, raw[setting.name]) for setting in SETTINGS
                 if setting.kind in ("bool", "int", "float", "choice")}
    api = choose_api(raw, converted["api"], converted["dry_run"])
    endpoint = parse_endpoint(raw["api-endpoint"])
    if api == "openapi" and endpoint == LEGACY_ENDPOINT:
        endpoint = OPENAPI_ENDPOINT  # the default stands for each API's own host
    return Settings(
        **converted | {"api": api},
        username=raw["username"],
        secret_key=raw["secret-key"],
        access_key_id=raw["access-key-id"],
        access_key_secret=raw["access-key-secret"],
        security_token=raw["security-token"],
        base_urls=tuple(parse_base_url(u) for u in split_lines(raw["base-url"])),
        paths=raw["paths"],
        paths_file=raw["paths-file"],
        git_base=raw["git-base"],
        git_head=raw["git-head"],
        source_dir=raw["source-dir"],
        include=tuple(split_lines(raw["include"])),
        exclude=tuple(split_lines(raw["exclude"])),
        index_files=tuple(parse_index_file(n)
                          for n in list_setting("index-files", raw["index-files"])),
        api_endpoint=endpoint,
        signature_timezone=tz,
        signature_timezone_name=tz_name,
        report_file=report_file,
        ca_bundle=raw["ca-bundle"],
        network=load_network(raw["ca-bundle"], env),
        arguments=tuple(arguments),
        dotenv_file=dotenv,
        debug=debug,
        backoff=parse_float("JDCDN_BACKOFF", env.get("JDCDN_BACKOFF", "").strip() or "1",
                            minimum=0, maximum=60),
        env=env,
    )


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


LEGACY_KEYS = ("username", "secret-key")
OPENAPI_KEYS = ("access-key-id", "access-key-secret")


def choose_api(raw: Mapping[str, str], api: str, dry_run: bool) -> str:
    """``api`` (auto, legacy, openapi): legacy or openapi, as set or as the credentials
    given say (``auto``); and, for a real run, every credential that API needs."""
    legacy = any(raw[name] for name in LEGACY_KEYS)
    openapi = any(raw[name] for name in (*OPENAPI_KEYS, "security-token"))
    if api == "auto":
        if legacy and openapi and not dry_run:
            raise InputError(
                "api: both legacy credentials (username, secret-key) and OpenAPI "
                "credentials (access-key-id, access-key-secret) are set; set api: legacy "
                "or api: openapi, or remove one set.")
        if not legacy and not openapi and not dry_run:
            raise InputError(
                "no credentials: set access-key-id and access-key-secret (JD Cloud's "
                "OpenAPI) or username and secret-key (the legacy API), from secrets; or "
                "set dry-run: true to plan without sending.")
        api = "openapi" if openapi else "legacy"
    if not dry_run:
        for name in OPENAPI_KEYS if api == "openapi" else LEGACY_KEYS:
            if not raw[name]:
                setting = BY_NAME[name]
                secret = " (from a secret)" if setting.secret else ""
                raise InputError(f"{name} is required: set {setting.spellings}{secret}.")
    return api


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


def _is_true(value: str) -> bool:
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
