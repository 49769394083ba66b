"""Settings: one kebab-case name, three spellings (flag, ``INPUT_*``, ``JDCDN_*``).

Each setting is declared once, in ``settings_table``; this module reads them (the command
line, then the environment: the first non-empty value wins, then the default), checks
each value (``settings_values``) and what they mean together (which API, its
credentials), and puts them in ``Settings``. Everything is validated before anything is
read from disk or sent, so a bad value ends the run with one line that names the setting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from jdcdn_action import __version__
from jdcdn_action.exceptions import InputError
from jdcdn_action.network import Network, load_network
from jdcdn_action.settings_table import BY_NAME, LEGACY_ENDPOINT, OPENAPI_ENDPOINT, SETTINGS
from jdcdn_action.settings_values import (
    check_credentials,
    is_true,
    list_setting,
    parse_base_url,
    parse_bool,
    parse_endpoint,
    parse_float,
    parse_index_file,
    parse_int,
    parse_timezone,
    split_lines,
)


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


@functools.cache  # built once: both the early masking and the settings read the command line
def build_parser() -> argparse.ArgumentParser:
    """The command line, from the table: one flag per setting (``--no-`` for booleans)."""
    parser = _Parser(
        prog="jdcdn-refresh",
        allow_abbrev=False,  # --secret is not --secret-key: a flag is spelt out
        description=(
            "Refresh JD Cloud CDN caches. Every option can also be given as INPUT_<NAME> "
            "(GitHub Actions) or JDCDN_<NAME> (any CI); see docs/settings.md."
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
    debug = debug_flag or env.get("RUNNER_DEBUG") == "1" or is_true(env.get("JDCDN_DEBUG", ""))
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
