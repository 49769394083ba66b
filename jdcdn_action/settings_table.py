"""The one table of settings: each setting declared once, with its kind, default and meaning.

Everything else is derived from it: the command's flags and ``--help`` and the three
spellings (``settings``), action.yml's inputs, the GitLab component's ``spec: inputs`` and
the settings table of the docs (``tools/sync_settings.py`` writes those, and tests hold
them to this table). The order is the contract's: the Settings table, then the OpenAPI one.

``help`` is the meaning as the docs show it (Markdown: code in backticks); ``--help``
shows it without the backticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# str: one value; text: several lines taken whole (paths); list: one item per line;
# choice: one of ``choices`` (any case); bool, int, float: within minimum..maximum.
Kind = Literal["str", "text", "list", "choice", "bool", "int", "float"]

LEGACY_ENDPOINT = "https://opencdn.jcloud.com"
OPENAPI_ENDPOINT = "https://cdn.jdcloud-api.com"


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: str
    help: str
    secret: bool = False  # masked wherever text leaves the run
    credential: bool = False  # printable ASCII only; never an input of the GitLab component
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    documented_default: str = ""  # the docs' default cell, where the default is computed
    field: str = ""  # the Settings field, where it is not the name with underscores

    @property
    def dest(self) -> str:
        """The Settings field: ``secret_key``."""
        return self.field or self.name.replace("-", "_")

    @property
    def input_variable(self) -> str:
        """The GitHub Actions input as the runner sets it: ``INPUT_SECRET-KEY``."""
        return f"INPUT_{self.name.upper()}"

    @property
    def env_variable(self) -> str:
        """The variable for GitLab CI and any other CI: ``JDCDN_SECRET_KEY``."""
        return f"JDCDN_{self.name.upper().replace('-', '_')}"

    @property
    def spellings(self) -> str:
        """The three ways to give the setting, for messages."""
        return f"--{self.name}, {self.input_variable} or {self.env_variable}"

    @property
    def default_cell(self) -> str:
        """The default as the docs' tables show it."""
        if self.documented_default:
            return self.documented_default
        if self.default:
            return f"`{self.default}`"
        return "none" if self.credential else "empty"


def _setting(name: str, kind: Kind, default: str, help: str, **more: object) -> Setting:
    return Setting(name, kind, default, " ".join(help.split()), **more)  # type: ignore[arg-type]


SETTINGS: tuple[Setting, ...] = (
    _setting("username", "str", "", "legacy API: JD user name (pin)", credential=True),
    _setting("secret-key", "str", "", """legacy API: the SecretKey agreed with JD; pass it
             from a secret""", credential=True, secret=True),
    _setting("base-url", "list", "", """one or more public base URLs (one per line), e.g.
             `https://www.example.com/` or `https://cdn.example.com/static/`; every site path
             is refreshed under each. Each an `http://` or `https://` URL. Needed unless every
             entry is an absolute URL""", documented_default="none", field="base_urls"),
    _setting("paths", "text", "", """entries to refresh: one per line, or what `paths-file`
             holds (a YAML list, or a mapping with `files` and/or `dirs` lists)"""),
    _setting("paths-file", "str", "", """a YAML file: a list of entries, or a mapping with
             keys `files` and/or `dirs`, each a list"""),
    _setting("git-diff", "bool", "false", """also refresh the files changed by the
             triggering push, pull request or pipeline"""),
    _setting("git-base", "str", "", """explicit base commit-ish for `git-diff` (overrides the
             event)"""),
    _setting("git-head", "str", "", """explicit head commit-ish for `git-diff` (default: the
             event's head, else `HEAD`)"""),
    _setting("source-dir", "str", ".", """the folder that is served at `base-url` (e.g.
             `public`, `dist`, `_site`): with `git-diff`, changed files outside it are
             ignored; with `verify`, the local copy of every URL is read from it"""),
    _setting("include", "list", "", """glob patterns, one per line (`**` crosses folders);
             when set, only changed files that match are kept. Matched against the path
             relative to `source-dir`"""),
    _setting("exclude", "list", "", "glob patterns; changed files that match are dropped"),
    _setting("index-files", "list", "index.html", """file names a web server serves for a
             folder URL; refreshing `docs/index.html` also refreshes the URL `docs/` (as a
             file URL). `none` turns this off"""),
    _setting("include-deleted", "bool", "true", """refresh files that the diff deletes (their
             stale copies must go too)"""),
    _setting("type", "choice", "auto", """`auto`: entries ending in `/` are directories, all
             else files; `file`; `dir`""", choices=("auto", "file", "dir")),
    _setting("dir-threshold", "int", "0", """when more than this many files of one folder
             would be refreshed, refresh the folder as a directory instead (deepest folders
             first, within `max-dirs`); `0` = never""", minimum=0),
    _setting("max-urls", "int", "2000", """refuse, before any call, a run that would submit
             more file URLs than this (JD's daily quota is 2000); `0` = no limit""",
             minimum=0),
    _setting("max-dirs", "int", "50", "the same for directories (daily quota 50)", minimum=0),
    _setting("dry-run", "bool", "false", "plan, print and set outputs, but send nothing"),
    _setting("fail-on-error", "bool", "true", """exit 1 when any batch failed; `false`
             reports failures but exits 0"""),
    _setting("api-endpoint", "str", LEGACY_ENDPOINT, f"""the API's origin; legacy calls go to
             `<api-endpoint>/api/refresh` etc. With the OpenAPI, this default stands for
             `{OPENAPI_ENDPOINT}` and calls go to `<api-endpoint>/v1/task` etc. Plain
             `http://` only for loopback hosts"""),
    _setting("timeout", "float", "30", """seconds for one whole HTTP request, connect to last
             byte (a server that trickles bytes cannot stretch it)""",
             minimum=0.1, maximum=600),
    _setting("max-attempts", "int", "5", "attempts per batch for transient failures",
             minimum=1, maximum=20),
    _setting("concurrency", "int", "4", "batches in flight at once (1 to 32)",
             minimum=1, maximum=32),
    _setting("signature-timezone", "str", "+08:00", """the timezone of the signature's date:
             a `+HH:MM`/`-HH:MM` offset or an IANA name"""),
    _setting("wait", "bool", "false", """after submitting, poll each task until it succeeds or
             fails"""),
    _setting("wait-timeout", "float", "600", """seconds to wait in all; then stop waiting and
             report the unfinished tasks""", minimum=0, maximum=86400),
    _setting("poll-interval", "float", "10", "seconds between polls",
             minimum=0.01, maximum=3600),
    _setting("prefetch", "bool", "false", """after the refresh, warm the refreshed file URLs
             (waits for the refresh first)"""),
    _setting("report-file", "str", "", """where to write the JSON report (default:
             `$RUNNER_TEMP/jdcdn-report.json` where `RUNNER_TEMP` is set, else
             `jdcdn-report.json` in the working directory)""", documented_default="see Outputs"),
    _setting("verify", "bool", "false", """after the refresh (and after `wait`, when set),
             fetch every checkable file URL from the CDN and compare it with its local copy
             under `source-dir`"""),
    _setting("verify-timeout", "float", "300", """seconds that `verify` keeps re-fetching URLs
             that still serve the old content""", minimum=0, maximum=86400),
    _setting("ca-bundle", "str", "", """a PEM file of certificate authorities to trust in
             addition to the default ones, for every HTTPS request (a proxy or gateway that
             re-signs TLS)"""),
    # JD Cloud's OpenAPI (the contract's "OpenAPI settings")
    _setting("api", "choice", "auto", """which JD API to call: `legacy` (`username` +
             `secret-key`), `openapi` (`access-key-id` + `access-key-secret`), or `auto`:
             `openapi` when `access-key-id` is set, `legacy` when `username` is set; both or
             neither set is an error unless `dry-run`""",
             choices=("auto", "legacy", "openapi")),
    _setting("access-key-id", "str", "", """OpenAPI: the AccessKey ID of a JD Cloud user or
             sub-user""", credential=True),
    _setting("access-key-secret", "str", "", """OpenAPI: its AccessKey Secret; pass it from a
             secret""", credential=True, secret=True),
    _setting("security-token", "str", "", """OpenAPI: the session token of temporary (STS)
             credentials, sent as `x-jdcloud-security-token`; pass it from a secret""",
             credential=True, secret=True),
)
BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
# The contract's second table, "OpenAPI settings": the last of SETTINGS.
OPENAPI_SETTINGS = ("api", "access-key-id", "access-key-secret", "security-token")
SECRETS = tuple(s.name for s in SETTINGS if s.secret)
CREDENTIALS = tuple(s.name for s in SETTINGS if s.credential)
