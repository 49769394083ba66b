"""Shared fixtures: the fake JD server, a runner for the command, and the leak check.

Every run made through ``run_cli`` is checked for the fixture secret and every signature
derived from it, in stdout, stderr, GITHUB_OUTPUT, the summary, the report and dotenv.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fake_jd import ECHO_FORMS, FakeJd, md5_signature
from tests.fake_openapi import FakeOpenApi

USERNAME = "jcloud_test"
SECRET = "s3cr3t-KEY-0123456789abcdef"
ACCESS_KEY_ID = "JDC_TESTACCESSKEY0123456"
ACCESS_KEY_SECRET = "oa-s3cr3t-SECRET-0123456789abcdef"
SECURITY_TOKEN = "sts-t0ken-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
#: Other secrets tests use (with the characters that escaping changes): checked like the
#: fixture's, in every channel of every test, once registered.
EXTRA_SECRETS: set[str] = set()
#: Legacy keys (username, secret) tests use: their daily signatures are checked too.
EXTRA_LEGACY_KEYS: set[tuple[str, str]] = set()


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


def assert_no_leak(where: str, text: str) -> None:
    # The runner swallows ::add-mask:: lines; they are the only place a secret may stand.
    visible = "\n".join(line for line in text.splitlines()
                        if not line.startswith("::add-mask::"))
    for value in secret_values():
        for form in text_forms(value):
            assert form not in visible, f"a secret or signature leaked into {where}"


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


@pytest.fixture
def fake_jd() -> Iterator[FakeJd]:
    with FakeJd(username=USERNAME, secret=SECRET) as server:
        yield server


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run the command in-process (or as a subprocess) with a clean environment.

    ``github=True`` sets what GitHub's runner sets (INPUT_* come from ``env``);
    ``gitlab=True`` what GitLab CI sets. Files land in a fresh folder per call.
    """
    counter = iter(range(1000))

    def run(args: list[str] | None = None, env: dict[str, str] | None = None, *,
            github: bool = False, gitlab: bool = False, subprocess_run: bool = False,
            cwd: Path | None = None, timeout: float = 120) -> Run:
        work = tmp_path / f"run{next(counter)}"
        work.mkdir()
        full_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work),
                    "LANG": "C.UTF-8", "JDCDN_BACKOFF": "0.01"}
        if github:
            (work / "runner_temp").mkdir()
            full_env |= {
                "GITHUB_ACTIONS": "true", "CI": "true",
                "GITHUB_OUTPUT": str(work / "output"),
                "GITHUB_STEP_SUMMARY": str(work / "summary.md"),
                "RUNNER_TEMP": str(work / "runner_temp"),
            }
            (work / "output").write_text("")
            (work / "summary.md").write_text("")
        if gitlab:
            full_env |= {"GITLAB_CI": "true", "CI": "true"}
        full_env |= env or {}
        cwd = cwd or work
        if subprocess_run:
            proc = subprocess.run(
                [sys.executable, "-m", "jdcdn_action", *(args or [])],
                env=full_env | {"PYTHONPATH": str(ROOT)}, cwd=cwd, capture_output=True,
                text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            from jdcdn_action.cli import main

            out_buffer, err_buffer = io.StringIO(), io.StringIO()
            old_cwd = os.getcwd()
            os.chdir(cwd)
            try:
                with contextlib.redirect_stdout(out_buffer), \
                        contextlib.redirect_stderr(err_buffer):
                    try:
                        code = main(args or [], full_env)
                    except SystemExit as stop:  # argparse
                        code = int(stop.code or 0)
            finally:
                os.chdir(old_cwd)
            out, err = out_buffer.getvalue(), err_buffer.getvalue()
        result = Run(code, out, err)
        assert_no_leak("stdout", out)
        assert_no_leak("stderr", err)
        if github:
            raw = (work / "output").read_text(encoding="utf-8")
            assert_no_leak("GITHUB_OUTPUT", raw)
            result.outputs = parse_github_output(raw)
            result.summary = (work / "summary.md").read_text(encoding="utf-8")
            assert_no_leak("the job summary", result.summary)
        report_path = Path(full_env.get("JDCDN_REPORT_FILE") or full_env.get(
            "INPUT_REPORT-FILE") or "")
        candidates = [report_path if report_path.is_absolute() else cwd / report_path] \
            if str(report_path) not in ("", ".") else []
        candidates += [work / "runner_temp" / "jdcdn-report.json", cwd / "jdcdn-report.json"]
        for candidate in candidates:
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8")
                assert_no_leak("the report", text)
                result.report = json.loads(text)
                break
        dotenv_name = full_env.get("JDCDN_DOTENV") or ("jdcdn.env" if gitlab else "")
        if dotenv_name:
            dotenv_path = Path(dotenv_name) if Path(dotenv_name).is_absolute() \
                else cwd / dotenv_name
            if dotenv_path.is_file():
                text = dotenv_path.read_text(encoding="utf-8")
                assert_no_leak("the dotenv file", text)
                result.dotenv = parse_dotenv(text)
        return result

    return run


@pytest.fixture
def jd_env(fake_jd: FakeJd) -> dict[str, str]:
    """JDCDN_* settings pointing at the fake server, with fast retries."""
    return {
        "JDCDN_USERNAME": USERNAME,
        "JDCDN_SECRET_KEY": SECRET,
        "JDCDN_API_ENDPOINT": fake_jd.endpoint,
        "JDCDN_BASE_URL": "https://www.example.com/",
        "JDCDN_TIMEOUT": "5",
        "JDCDN_BACKOFF": "0.01",
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Session-wide: whatever any test printed (captured stdout/stderr/log) must not hold
    the fixture secret or a signature derived from it, whether or not it used run_cli."""
    outcome = yield
    report = outcome.get_result()
    for name, text in report.sections:
        try:
            assert_no_leak(name, text)
        except AssertionError as leak:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid}: {leak}"


@pytest.fixture
def fake_openapi() -> Iterator[FakeOpenApi]:
    """A fake CDN OpenAPI knowing the permanent key ACCESS_KEY_ID / ACCESS_KEY_SECRET
    (``fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)`` makes it an
    STS key)."""
    with FakeOpenApi(ACCESS_KEY_ID, ACCESS_KEY_SECRET) as server:
        yield server


@pytest.fixture
def openapi_env(fake_openapi: FakeOpenApi) -> dict[str, str]:
    """JDCDN_* settings for the OpenAPI, pointing at the fake server, with fast retries."""
    return {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
            "JDCDN_API_ENDPOINT": fake_openapi.endpoint,
            "JDCDN_BASE_URL": "https://www.example.com/",
            "JDCDN_BACKOFF": "0.01"}
