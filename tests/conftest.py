"""Shared fixtures: the fake JD servers, a runner for the command, and the leak check.

Every run made through ``run_cli`` is checked for the fixture secret and every signature
derived from it, in stdout, stderr, GITHUB_OUTPUT, the summary, the report and dotenv.
What the modules share besides fixtures is in ``tests/helpers.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container import Image, build_image
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Origin, Repo, event_file
from tests.helpers import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    ROOT,
    SECRET,
    USERNAME,
    Run,
    assert_no_leak,
    parse_dotenv,
    parse_github_output,
)
from tests.helpers import SECURITY_TOKEN as SECURITY_TOKEN  # for modules importing it here

if TYPE_CHECKING:
    from tests.runners import Images


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


# -- pytest-xdist ----------------------------------------------------------------------------
#: The modules whose tests use Docker (the image, a registry, the runner emulators): they
#: build, tag and remove the same images on one engine, so one worker runs them all.
DOCKER_MODULES = frozenset({
    "test_container", "test_container_networks", "test_pinned_image", "test_ci_workflow",
    "test_runner_act", "test_runner_component", "test_runner_gitlab"})


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """The Docker modules' tests on one worker, one after another; every other test on the
    next free worker. (pytest-xdist's own loadgroup cannot group them under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class DockerOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "docker" if _module(nodeid) in DOCKER_MODULES else nodeid

    return DockerOnOneWorker(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses Docker outside DOCKER_MODULES would race the others for its
    images on another worker: that is a collection error, not a flaky run."""
    for item in items:
        uses_docker = "image" in item.fixturenames or item.get_closest_marker("runners")
        if uses_docker and _module(item.nodeid) not in DOCKER_MODULES:
            raise pytest.UsageError(f"{item.nodeid} uses Docker: add its module to "
                                    "DOCKER_MODULES in tests/conftest.py")


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


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The image, built once for the session from the Dockerfile as written (skipped with
    JDCDN_SKIP_CONTAINER_TESTS=1, or without Docker but under CI)."""
    return build_image(tmp_path_factory.mktemp("image") / "build.log")


# -- git-diff --------------------------------------------------------------------------------
@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    """A bare origin with an author's work tree (``tests/gitrepo.py``)."""
    return Origin(tmp_path / "git")


@pytest.fixture
def diff(run_cli: RunCli, jd_env: dict[str, str], tmp_path: Path) -> Callable[..., Run]:
    """Run the command with git-diff on, in ``repo``, optionally as a GitHub event."""
    counter = iter(range(100))

    def run(repo: Repo, env: dict[str, str] | None = None, event: str = "",
            payload: dict | None = None, **kwargs) -> Run:
        full = jd_env | {"JDCDN_GIT_DIFF": "true"} | (env or {})
        if event:
            path = tmp_path / f"event{next(counter)}.json"
            full |= {"GITHUB_EVENT_NAME": event,
                     "GITHUB_EVENT_PATH": event_file(path, payload or {})}
            kwargs.setdefault("github", True)
        return run_cli(env=full, cwd=repo.path, **kwargs)

    return run


# -- gitlab-ci-local -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gcl() -> str:
    """The pinned gitlab-ci-local (skipped locally where it is missing, failed under CI)."""
    from tests.gitlab_ci_local import find_gitlab_ci_local

    return find_gitlab_ci_local()


@pytest.fixture(scope="module")
def images(gcl: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The action's image and a job image, built once per module for gitlab-ci-local."""
    from tests.gitlab_ci_local import build_gitlab_images

    return build_gitlab_images(tmp_path_factory)
