"""The image under test, and the two ways CI runs it: as GitHub's runner runs a container
action, and as GitLab's docker executor runs a job.

``build_image`` builds it from the Dockerfile as written (where no registry can be reached,
FROM the local base that the shared ``docker-offline.sh`` makes); the session fixture
``image`` (``conftest.py``) builds it once. A run mounts real folders and a real git
checkout owned by another uid than the container's root, reaches the fakes on 127.0.0.1
through ``--network host``, and is read back the way the runner reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.gitrepo import Repo
from tests.helpers import (
    BASE,
    ROOT,
    Run,
    assert_no_leak,
    assert_no_secret_on_disk,
    parse_dotenv,
    parse_github_output,
    unavailable,
)

OFFLINE_BASE_SCRIPT = ROOT.parent / "shared" / "ci" / "docker-offline.sh"
# JDCDN_TEST_IMAGE lets two checkouts on one engine build without racing for one tag.
TAG = os.environ.get("JDCDN_TEST_IMAGE", "jdcdn-action:test")
RUNNER_UID = 1001  # the user GitHub's hosted runners check out as


# -- the image -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    tag: str
    base: str


def base_image() -> str:
    """The base to build FROM: JDCDN_BASE_IMAGE, else the local one, else the default."""
    base = os.environ.get("JDCDN_BASE_IMAGE", "").strip()
    if base:
        return base
    if OFFLINE_BASE_SCRIPT.is_file() and os.geteuid() == 0:
        # Idempotent: starts an engine if none runs and imports the base if it is missing.
        done = subprocess.run(["bash", str(OFFLINE_BASE_SCRIPT)], capture_output=True,
                              text=True, timeout=1800, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            unavailable(f"docker-offline.sh failed: {done.stderr.strip()[-2000:]}")
        return done.stdout.strip().splitlines()[-1]
    default = dockerfile_default_base()
    present = subprocess.run(["docker", "image", "inspect", default], capture_output=True,
                             timeout=60).returncode == 0
    if not present:  # never pull from here: the build machine may reach no registry
        unavailable(f"the base image {default} is not present: docker pull it, or set "
                    "JDCDN_BASE_IMAGE to a local Debian-based Python image")
    return ""


def _pip_config(key: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pip", "config", "get", key],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else ""


def pip_build_args() -> list[str]:
    """The host's package index settings that a build can use (network URLs only)."""
    args = []
    for name, key in (("PIP_INDEX_URL", "global.index-url"),
                      ("PIP_EXTRA_INDEX_URL", "global.extra-index-url"),
                      ("PIP_TRUSTED_HOST", "global.trusted-host")):
        value = os.environ.get(name) or _pip_config(key)
        if name != "PIP_TRUSTED_HOST":
            value = " ".join(v for v in value.split() if v.startswith(("http://", "https://")))
        if value:
            args += ["--build-arg", f"{name}={value}"]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                 "no_proxy"):
        if os.environ.get(name):
            args += ["--build-arg", name]
    return args


def build_image(log: Path) -> Image:
    """Build the image under TAG (Docker's layer cache makes rebuilds quick)."""
    if os.environ.get("JDCDN_SKIP_CONTAINER_TESTS") == "1":
        pytest.skip("JDCDN_SKIP_CONTAINER_TESTS=1: the container tests run in another job")
    if not shutil.which("docker"):
        unavailable("no docker command")
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    if info.returncode != 0 and not OFFLINE_BASE_SCRIPT.is_file():
        unavailable("no Docker engine is running")
    base = base_image()  # the offline script, where it is used, starts an engine
    env = dict(os.environ)
    if subprocess.run(["docker", "buildx", "version"], capture_output=True,
                      timeout=60).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"  # an engine without BuildKit's client plugin
    command = ["docker", "build", "--network", "host", "--tag", TAG, *pip_build_args()]
    if base:
        command += ["--build-arg", f"BASE_IMAGE={base}"]
    with log.open("w") as handle:
        done = subprocess.run([*command, str(ROOT)], stdout=handle, stderr=subprocess.STDOUT,
                              env=env, timeout=1200, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        pytest.fail(f"docker build failed:\n{log.read_text()[-4000:]}")
    return Image(TAG, base or dockerfile_default_base())


def dockerfile_default_base() -> str:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG BASE_IMAGE="):
            return line.partition("=")[2].strip()
    raise AssertionError("the Dockerfile has no ARG BASE_IMAGE=")


# -- a checkout ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """A site repository with two commits: ``before`` and the pushed ``after``."""

    path: Path
    before: str
    after: str
    # What git-diff of before..after must refresh with source-dir public (deleted included).
    changed_urls = (
        BASE + "blog/hello%20world.html",
        BASE + "css/site.css",
        BASE + "docs/old.html",
    )


def make_site(path: Path) -> Site:
    repo = Repo.init(path, path.parent)
    files = {"README.md": "# site\n", "public/index.html": "<h1>home</h1>\n",
             "public/css/site.css": "body {}\n", "public/docs/old.html": "old\n",
             "deploy/paths.yml": "files:\n  - index.html\n  - css/site.css\ndirs:\n  - img/\n"}
    for name, text in files.items():
        repo.write(name, text)
    before = repo.commit("first")
    repo.write("public/css/site.css", "body { margin: 0 }\n")
    repo.write("public/blog/hello world.html", "hello\n")
    repo.remove("public/docs/old.html")
    repo.write("README.md", "# site, outside source-dir\n")
    return Site(path, before, repo.commit("second"))


def give_away(root: Path) -> None:
    """Make the folders belong to the runner's user, as on GitHub (when we may)."""
    if os.geteuid() != 0:
        return  # already another uid than the container's root
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), RUNNER_UID, RUNNER_UID)
    os.lchown(root, RUNNER_UID, RUNNER_UID)


def tree_listing(path: Path) -> dict[str, bytes]:
    """Every file of a work tree (not .git) with its content."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(path).parts}


def docker_run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """docker run, with each variable named by ``-e NAME`` and its value passed in the
    docker client's environment, as the runner does (no value on a command line)."""
    names = [arg for name in env for arg in ("-e", name)]
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "host", *names, *command],
        env=os.environ | env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )


# -- GitHub's runner -------------------------------------------------------------------------
def action_inputs(given: dict[str, str]) -> dict[str, str]:
    """INPUT_* as the runner sets them: every declared input, its default filled in,
    upper-cased with hyphens kept, empty when unset."""
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    unknown = set(given) - set(declared)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    return {f"INPUT_{name.upper().replace(' ', '_')}":
            given.get(name, str(spec.get("default", ""))) for name, spec in declared.items()}


@dataclass
class GitHubJob:
    """A job's folders on the runner's host, laid out as the runner lays them out."""

    root: Path

    def __post_init__(self) -> None:
        self.workspace = self.root / "work" / "site" / "site"
        self.temp = self.root / "work" / "_temp"
        self.home = self.temp / "_github_home"
        self.workflow = self.temp / "_github_workflow"
        self.file_commands = self.temp / "_runner_file_commands"
        for folder in (self.home, self.workflow, self.file_commands):
            folder.mkdir(parents=True)

    def run(self, image: Image, inputs: dict[str, str], event_name: str = "push",
            event: dict | None = None, sha: str = "0" * 40,
            mounts: tuple[tuple[Path, str], ...] = (),
            step_env: dict[str, str] | None = None) -> Run:
        step = uuid.uuid4()
        files = {kind: self.file_commands / f"{kind}_{step}"
                 for kind in ("set_output", "step_summary", "set_env", "add_path",
                              "save_state")}
        for path in files.values():
            path.write_text("")
        (self.workflow / "event.json").write_text(json.dumps(event or {}))
        give_away(self.root)
        env = {
            "HOME": "/github/home", "GITHUB_ACTIONS": "true", "CI": "true",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_EVENT_NAME": event_name, "GITHUB_SHA": sha,
            "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
            "GITHUB_REPOSITORY": "octo/site", "GITHUB_ACTOR": "octo",
            "GITHUB_RUN_ID": "4242", "GITHUB_ACTION": "refresh",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_TEMP": "/github/runner_temp",
            **{f"GITHUB_{name}": f"/github/file_commands/{path.name}" for name, path in (
                ("OUTPUT", files["set_output"]), ("STEP_SUMMARY", files["step_summary"]),
                ("ENV", files["set_env"]), ("PATH", files["add_path"]),
                ("STATE", files["save_state"]))},
            **action_inputs(inputs),
            **(step_env or {}),  # the step's (and job's) env:, passed to the container too
        }
        # The runner's mounts, in its order (all but the Docker socket).
        mounts = [(self.temp, "/github/runner_temp"), (self.home, "/github/home"),
                  (self.workflow, "/github/workflow"),
                  (self.file_commands, "/github/file_commands"),
                  (self.workspace, "/github/workspace"), *mounts]
        volumes = [arg for host, inside in mounts for arg in ("-v", f"{host}:{inside}")]
        done = docker_run(["--workdir", "/github/workspace", *volumes, image.tag], env)
        assert_no_leak("stdout", done.stdout)
        assert_no_leak("stderr", done.stderr)
        assert_no_secret_on_disk(self.root)
        raw_outputs = files["set_output"].read_text(encoding="utf-8")
        report = self.temp / "jdcdn-report.json"
        return Run(done.returncode, done.stdout, done.stderr,
                   outputs=parse_github_output(raw_outputs),
                   summary=files["step_summary"].read_text(encoding="utf-8"),
                   report=json.loads(report.read_text()) if report.is_file() else None)


# -- GitLab CI -------------------------------------------------------------------------------
def gitlab_job(image: Image, project: Path, env: dict[str, str],
               script: str = "jdcdn-refresh") -> Run:
    """The image as GitLab's docker executor runs it with ``entrypoint: [""]``: the job's
    script in sh, in the project folder, with CI/CD variables in the environment."""
    give_away(project)
    inside = "/builds/octo/site"
    env = {"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": inside,
           "CI_DEFAULT_BRANCH": "main", **env}
    done = docker_run(["--workdir", inside, "-v", f"{project}:{inside}", "--entrypoint", "sh",
                       image.tag, "-c", script], env)
    assert_no_leak("stdout", done.stdout)
    assert_no_leak("stderr", done.stderr)
    assert_no_secret_on_disk(project)
    dotenv = project / "jdcdn.env"
    report = project / "jdcdn-report.json"
    return Run(done.returncode, done.stdout, done.stderr,
               dotenv=parse_dotenv(dotenv.read_text()) if dotenv.is_file() else {},
               report=json.loads(report.read_text()) if report.is_file() else None)
