"""Settings: one kebab-case name, three spellings (flag, ``INPUT_*``, ``JDCDN_*``).

The first non-empty value wins, then the default (see docs in README "Settings").
Everything here is validated before anything is read from disk or sent, so a bad
value ends the run with one line that names the setting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NoReturn
from urllib.parse import urlsplit

from jdcdn_action import __version__
from jdcdn_action.exceptions import InputError
from jdcdn_action.redaction import hide_userinfo

# name -> (default, kind). Kinds: str, list (one item per line), bool, int, float.
SPEC: dict[str, tuple[str, str]] = {
    "username": ("", "str"),
    "secret-key": ("", "str"),
    "base-url": ("", "list"),
    "paths": ("", "str"),
    "paths-file": ("", "str"),
    "git-diff": ("false", "bool"),
    "git-base": ("", "str"),
    "git-head": ("", "str"),
    "source-dir": (".", "str"),
    "include": ("", "list"),
    "exclude": ("", "list"),
    "index-files": ("index.html", "list"),
    "include-deleted": ("true", "bool"),
    "type": ("auto", "str"),
    "dir-threshold": ("0", "int"),
    "max-urls": ("2000", "int"),
    "max-dirs": ("50", "int"),
    "dry-run": ("false", "bool"),
    "fail-on-error": ("true", "bool"),
    "api-endpoint": ("https://opencdn.jcloud.com", "str"),
    "timeout": ("30", "float"),
    "max-attempts": ("5", "int"),
    "concurrency": ("4", "int"),
    "signature-timezone": ("+08:00", "str"),
    "wait": ("false", "bool"),
    "wait-timeout": ("600", "float"),
    "poll-interval": ("10", "float"),
    "prefetch": ("false", "bool"),
    "report-file": ("", "str"),
    # JD Cloud's OpenAPI (the contract's "OpenAPI settings")
    "api": ("auto", "str"),
    "access-key-id": ("", "str"),
    "access-key-secret": ("", "str"),
    "security-token": ("", "str"),
}
LEGACY_ENDPOINT = "https://opencdn.jcloud.com"
OPENAPI_ENDPOINT = "https://cdn.jdcloud-api.com"
SECRETS = ("secret-key", "access-key-secret", "security-token")

# One line of --help per setting; the README's Settings table says more.
HELP: dict[str, str] = {
    "username": "legacy API: JD user name (pin)",
    "secret-key": "legacy API: the SecretKey agreed with JD (pass it from a secret)",
    "base-url": "a public base URL, e.g. https://www.example.com/; repeat for several",
    "paths": "entries to refresh: one per line, or a YAML list or files/dirs mapping; "
             "repeat to add",
    "paths-file": "a YAML file: a list of entries, or a mapping with files and/or dirs",
    "git-diff": "also refresh the files changed by the push, pull request or pipeline",
    "git-base": "base commit-ish for git-diff (overrides the event)",
    "git-head": "head commit-ish for git-diff (default: the event's head, else HEAD)",
    "source-dir": "the repository folder served at base-url (e.g. public, dist)",
    "include": "glob of changed files to keep (** crosses folders); repeat for several",
    "exclude": "glob of changed files to drop; repeat for several",
    "index-files": "file names served for a folder URL; repeat for several; none: off",
    "include-deleted": "refresh files the diff deletes",
    "type": "auto (a trailing / is a directory), file or dir",
    "dir-threshold": "refresh a folder as a directory when more of its files changed; "
                     "0: never",
    "max-urls": "refuse a run with more file URLs than this (JD: 2000 a day); 0: no limit",
    "max-dirs": "refuse a run with more directories than this (JD: 50 a day); 0: no limit",
    "dry-run": "plan, print and set outputs, but send nothing",
    "fail-on-error": "exit 1 when a call failed (--no-fail-on-error: report, exit 0)",
    "api-endpoint": f"the API's origin (legacy: {LEGACY_ENDPOINT}, openapi: "
                    f"{OPENAPI_ENDPOINT})",
    "timeout": "seconds for one whole HTTP request, connect to last byte",
    "max-attempts": "attempts per call for transient failures",
    "concurrency": "calls in flight at once",
    "signature-timezone": "timezone of the signature's date: +HH:MM or an IANA name",
    "wait": "poll each task until it succeeds or fails",
    "wait-timeout": "seconds to wait in all",
    "poll-interval": "seconds between polls",
    "prefetch": "after the refresh, warm the refreshed file URLs",
    "report-file": "where to write the JSON report (default: $RUNNER_TEMP/jdcdn-report.json)",
    "api": "which JD API: legacy, openapi, or auto (from the credentials given)",
    "access-key-id": "OpenAPI: the AccessKey ID of a JD Cloud user or sub-user",
    "access-key-secret": "OpenAPI: its AccessKey Secret (pass it from a secret)",
    "security-token": "OpenAPI: the session token of temporary (STS) credentials",
}

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
LOOPBACK_NAMES = {"localhost"}
OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class Settings:
    """Validated settings. Field names are the setting names with underscores."""

    username: str = ""
    secret_key: str = ""
    base_urls: tuple[str, ...] = ()
    paths: str = ""
    paths_file: str = ""
    git_diff: bool = False
    git_base: str = ""
    git_head: str = ""
    source_dir: str = "."
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    index_files: tuple[str, ...] = ("index.html",)
    include_deleted: bool = True
    type: str = "auto"
    dir_threshold: int = 0
    max_urls: int = 2000
    max_dirs: int = 50
    dry_run: bool = False
    fail_on_error: bool = True
    api_endpoint: str = LEGACY_ENDPOINT
    timeout: float = 30.0
    max_attempts: int = 5
    concurrency: int = 4
    signature_timezone: dt.tzinfo = dt.timezone(dt.timedelta(hours=8))
    signature_timezone_name: str = "+08:00"
    wait: bool = False
    wait_timeout: float = 600.0
    poll_interval: float = 10.0
    prefetch: bool = False
    report_file: str = "jdcdn-report.json"
    # Not settings of the contract: where the run happens and how it is tuned.
    arguments: tuple[str, ...] = ()
    dotenv_file: str = ""
    debug: bool = False
    backoff: float = 1.0
    github_actions: bool = False
    api: str = "legacy"  # the API chosen: legacy or openapi
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one InputError line, not usage text."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"command line: {message}; see jdcdn-refresh --help.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jdcdn-refresh",
        description=(
            "Refresh JD Cloud CDN caches. Every option can also be given as INPUT_<NAME> "
            "(GitHub Actions) or JDCDN_<NAME> (any CI); see the README."
        ),
    )
    parser.add_argument("entries", nargs="*", metavar="PATH_OR_URL",
                        help="site paths or absolute URLs to refresh (added to --paths)")
    for name, (default, kind) in SPEC.items():
        dest = name.replace("-", "_")
        shown = f" (default: {default})" if default else ""
        if kind == "bool":
            group = parser.add_mutually_exclusive_group()
            group.add_argument(f"--{name}", dest=dest, action="store_const", const="true",
                               help=HELP[name] + shown)
            group.add_argument(f"--no-{name}", dest=dest, action="store_const", const="false",
                               help=f"the opposite of --{name}")
        elif kind == "list" or name == "paths":
            # Repeated, the values add up: one item (or paths text) per flag.
            parser.add_argument(f"--{name}", dest=dest, action="append", metavar="VALUE",
                                help=HELP[name] + shown)
        else:
            parser.add_argument(f"--{name}", dest=dest, metavar="VALUE",
                                help=HELP[name] + shown)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and call details")
    parser.add_argument("--version", action="version", version=f"jdcdn-refresh {__version__}")
    return parser


def raw_values(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[dict[str, str], list[str], bool]:
    """Return each setting's winning raw string (trimmed), the positional entries, --debug."""
    args = build_parser().parse_args(list(argv))
    values: dict[str, str] = {}
    for name, (default, _kind) in SPEC.items():
        flag = getattr(args, name.replace("-", "_"))
        if isinstance(flag, list):
            flag = "\n".join(flag)
        candidates = (
            flag,
            env.get(f"INPUT_{name.upper()}"),
            env.get(f"JDCDN_{name.upper().replace('-', '_')}"),
        )
        values[name] = next((c.strip() for c in candidates if c and c.strip()), default)
    return values, list(args.entries), bool(args.debug)


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
    kind = raw["type"].lower()
    if kind not in {"auto", "file", "dir"}:
        raise InputError(f"type: {raw['type']!r} is not one of auto, file, dir.")
    settings = Settings(
        username=raw["username"],
        secret_key=raw["secret-key"],
        base_urls=tuple(parse_base_url(u) for u in split_lines(raw["base-url"])),
        paths=raw["paths"],
        paths_file=raw["paths-file"],
        git_diff=parse_bool("git-diff", raw["git-diff"]),
        git_base=raw["git-base"],
        git_head=raw["git-head"],
        source_dir=raw["source-dir"],
        include=tuple(split_lines(raw["include"])),
        exclude=tuple(split_lines(raw["exclude"])),
        index_files=tuple(parse_index_file(n)
                          for n in list_setting("index-files", raw["index-files"])),
        include_deleted=parse_bool("include-deleted", raw["include-deleted"]),
        type=kind,
        dir_threshold=parse_int("dir-threshold", raw["dir-threshold"], minimum=0),
        max_urls=parse_int("max-urls", raw["max-urls"], minimum=0),
        max_dirs=parse_int("max-dirs", raw["max-dirs"], minimum=0),
        dry_run=parse_bool("dry-run", raw["dry-run"]),
        fail_on_error=parse_bool("fail-on-error", raw["fail-on-error"]),
        api_endpoint=parse_endpoint(raw["api-endpoint"]),
        timeout=parse_float("timeout", raw["timeout"], minimum=0.1, maximum=600),
        max_attempts=parse_int("max-attempts", raw["max-attempts"], minimum=1, maximum=20),
        concurrency=parse_int("concurrency", raw["concurrency"], minimum=1, maximum=32),
        signature_timezone=tz,
        signature_timezone_name=tz_name,
        wait=parse_bool("wait", raw["wait"]),
        wait_timeout=parse_float("wait-timeout", raw["wait-timeout"], minimum=0, maximum=86400),
        poll_interval=parse_float("poll-interval", raw["poll-interval"], minimum=0.01,
                                  maximum=3600),
        prefetch=parse_bool("prefetch", raw["prefetch"]),
        report_file=report_file,
        arguments=tuple(arguments),
        dotenv_file=dotenv,
        debug=debug,
        backoff=parse_float("JDCDN_BACKOFF", env.get("JDCDN_BACKOFF", "").strip() or "1",
                            minimum=0, maximum=60),
        github_actions=env.get("GITHUB_ACTIONS") == "true",
        env=env,
    )
    api = choose_api(raw, settings.dry_run)
    endpoint = settings.api_endpoint
    if api == "openapi" and endpoint == LEGACY_ENDPOINT:
        endpoint = OPENAPI_ENDPOINT  # the default stands for each API's own host
    settings = replace(settings, api=api, api_endpoint=endpoint,
                       access_key_id=raw["access-key-id"],
                       access_key_secret=raw["access-key-secret"],
                       security_token=raw["security-token"])
    return settings


CREDENTIALS = ("username", "secret-key", "access-key-id", "access-key-secret", "security-token")
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


def choose_api(raw: Mapping[str, str], dry_run: bool) -> str:
    """``api``: legacy or openapi, as set or as the credentials given say (``auto``);
    and, for a real run, every credential that API needs."""
    api = raw["api"].lower()
    if api not in {"auto", "legacy", "openapi"}:
        raise InputError(f"api: {raw['api']!r} is not one of auto, legacy, openapi.")
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
                secret = " (from a secret)" if name in SECRETS else ""
                raise InputError(f"{name} is required: set {spellings(name)}{secret}.")
    return api


def spellings(name: str) -> str:
    """The three ways to give a setting, for messages."""
    return f"--{name}, INPUT_{name.upper()} or JDCDN_{name.upper().replace('-', '_')}"


def split_lines(text: str) -> list[str]:
    """One item per line (lines end at ``\\n`` or ``\\r\\n`` only); blank lines and
    surrounding spaces dropped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def list_setting(name: str, text: str) -> list[str]:
    """A list setting's items; the word ``none`` empties one whose default is not empty
    (an empty value cannot: the first non-empty spelling, then the default, wins)."""
    items = split_lines(text)
    if SPEC[name][0] and [item.lower() for item in items] == ["none"]:
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
