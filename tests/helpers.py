"""What the test modules share: the checkout, the test credentials and the leak check, the
parsers of what a runner reads back, and small builders of paths, URLs and runs.

Fixtures live in ``conftest.py``; the fakes in ``fake_jd.py``, ``fake_openapi.py`` and
``fake_edge.py``; git repositories in ``gitrepo.py``; the image in ``container.py``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from tests.fake_jd import ECHO_FORMS, md5_signature
from tests.fake_openapi import FakeOpenApi

ROOT = Path(__file__).resolve().parent.parent
#: The base-url of the tests' runs (``jd_env``, ``openapi_env``).
BASE = "https://www.example.com/"

USERNAME = "jcloud_test"
SECRET = "s3cr3t-KEY-0123456789abcdef"
ACCESS_KEY_ID = "JDC_TESTACCESSKEY0123456"
ACCESS_KEY_SECRET = "oa-s3cr3t-SECRET-0123456789abcdef"
SECURITY_TOKEN = "sts-t0ken-0123456789abcdef"
#: Other secrets tests use (with the characters that escaping changes): checked like the
#: fixture's, in every channel of every test, once registered.
EXTRA_SECRETS: set[str] = set()
#: Legacy keys (username, secret) tests use: their daily signatures are checked too.
EXTRA_LEGACY_KEYS: set[tuple[str, str]] = set()


# -- the leak check --------------------------------------------------------------------------
def secret_values(username: str = USERNAME, secret: str = SECRET) -> list[str]:
    """The secrets and every signature a run around now could compute from them: the
    legacy keys' daily md5s, the OpenAPI secret and token, and every per-request
    signature a fake OpenAPI server has received."""
    today = dt.date.today()
    days = [today + dt.timedelta(days=n) for n in range(-2, 3)]
    keys = {(username, secret), *EXTRA_LEGACY_KEYS}
    return [secret, ACCESS_KEY_SECRET, SECURITY_TOKEN, *EXTRA_SECRETS,
            *(md5_signature(user, key, day) for user, key in keys for day in days),
            *FakeOpenApi.SIGNATURES_SEEN]


@functools.cache
def text_forms(value: str) -> frozenset[str]:
    """Every form ``value`` can take in text: raw, JSON- and repr-escaped (either quote),
    %-encoded, HTML-escaped (the forms a server may echo it in, ``ECHO_FORMS``)."""
    either_quote = value.replace("\\", "\\\\").replace("'", "\\'")
    return frozenset({*(form(value) for form in ECHO_FORMS.values()), either_quote})


def visible(text: str) -> str:
    """What the runner shows: every line but its ``::add-mask::`` commands (the only place
    a secret may stand)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))


def assert_no_leak(where: str, text: str) -> None:
    shown = visible(text)
    for value in secret_values():
        for form in text_forms(value):
            assert form not in shown, f"a secret or signature leaked into {where}"


def assert_no_secret_on_disk(root: Path, secret: str = SECRET) -> None:
    """No file under ``root`` holds ``secret`` or a signature made from it (a run's
    folders, after the image or a runner ran there)."""
    needles = [value.encode() for value in secret_values(USERNAME, secret)]
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert not any(n in data for n in needles), f"a secret or signature is in {path}"


# -- what a runner reads back ----------------------------------------------------------------
def parse_github_output(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file the way the runner does (FileCommandManager)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc != -1 and (eq == -1 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            assert name and delimiter, f"malformed heredoc line {line!r}"
            body = []
            while True:
                assert i < len(lines), f"delimiter {delimiter!r} never closed"
                if lines[i] == delimiter:
                    i += 1
                    break
                body.append(lines[i])
                i += 1
            assert name not in values, f"output {name} set twice"
            values[name] = "\n".join(body)
        else:
            assert eq > 0, f"malformed output line {line!r}"
            values[line[:eq]] = line[eq + 1:]
    return values


def parse_dotenv(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        assert line and "=" in line, f"bad dotenv line {line!r}"
        key, value = line.split("=", 1)
        assert key.replace("_", "").isalnum() and key.isascii(), key
        assert " " not in value and "\n" not in value
        values[key] = value
    return values


@dataclass
class Run:
    """One run of the command (``run_cli``) or of the image, as its runner saw it."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    report: dict | None = None
    dotenv: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    def json_output(self, name: str) -> list:
        return json.loads(self.outputs[name])


def error_lines(run: Run) -> list[str]:
    """The run's error lines: ``::error`` annotations (GitHub) and ``error:`` lines."""
    return [line for line in run.log.splitlines() if line.startswith(("::error", "error:"))]


# -- the repository's YAML files -------------------------------------------------------------
@functools.cache
def _yaml_documents(path: Path, _version: tuple[int, int]) -> tuple[Any, ...]:
    return tuple(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def yaml_documents(path: Path) -> list[Any]:
    """The YAML documents of ``path``, parsed once per version of the file (a test may
    change its copy: each call returns a fresh one)."""
    stat = path.stat()
    return copy.deepcopy(list(_yaml_documents(path, (stat.st_mtime_ns, stat.st_size))))


def yaml_file(path: Path) -> Any:
    """The one YAML document of ``path`` (see ``yaml_documents``)."""
    [document] = yaml_documents(path)
    return document


# -- builders --------------------------------------------------------------------------------
def url(path: str) -> str:
    """The URL of ``path`` under the runs' base-url."""
    return BASE + path


def urls(*paths: str) -> set[str]:
    return {BASE + path for path in paths}


def run_openapi(run_cli: Callable[..., Run], openapi_env: dict[str, str], paths: str = "",
                *, github: bool = True, gitlab: bool = False, **extra: str) -> Run:
    """``run_cli`` with the OpenAPI settings (``openapi_env``), ``paths`` and ``extra``."""
    env = openapi_env | ({"JDCDN_PATHS": paths} if paths else {}) | extra
    return run_cli(env=env, github=github, gitlab=gitlab)


def site_files(n: int) -> str:
    """``n`` paths (one a line), a file each: ``n // 100`` batches and a bit."""
    return "\n".join(f"assets/file-{i:04d}.js" for i in range(n))


def unused_port() -> int:
    """A port on loopback that nothing listens on: a connection to it is refused (until a
    server a test starts takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def interrupted_when(condition: Callable[[], bool], within: float = 60.0) -> Iterator[None]:
    """Inside the block, SIGINT (a Ctrl-C) reaches this process as soon as ``condition()``
    holds (checked every 10 ms, for at most ``within`` seconds): at the moment a test
    means, whatever the load, rather than after a guessed delay."""
    done = threading.Event()

    def watch() -> None:
        end = time.monotonic() + within
        while not done.is_set() and time.monotonic() < end:
            if condition():
                signal.raise_signal(signal.SIGINT)
                return
            done.wait(0.01)

    watcher = threading.Thread(target=watch, name="interrupt-when", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


class FakeClock:
    """Monotonic time that advances only by sleeping (the clock and the sleep the
    package's waiting takes): minutes of waiting in no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


# -- tests that need more than Python --------------------------------------------------------
def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under CI (``CI=true``), where a skipped test
    would hide that what it needs (Docker, the runner emulators) was never there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"this test must run under CI: {reason}")
    pytest.skip(reason)
