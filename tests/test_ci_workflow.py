"""The project's own CI, ``.github/workflows/ci.yml``, job by job under nektos/act.

GitHub is not needed to know whether the workflow passes as written: each job (each entry
of the test matrix) runs under act on this machine, on a snapshot of this checkout (its
tracked and new files), with exactly the steps ci.yml gives. Only the two actions fetched
from GitHub are replaced, through act's ``--local-repository``, by the local stand-ins in
``tests/ci_stand_ins``: ``actions/checkout`` clones the snapshot into the workspace
(``--no-skip-checkout``, so the job starts from an empty workspace as on GitHub), and
``actions/setup-python`` makes a venv of the requested version from the interpreters this
machine has (on PATH, or pyenv's). Every other ``uses:`` in ci.yml must be ``./``, so an
action added later without a stand-in is noticed here.

As in ``tests/test_runner_act.py``, jobs run on this host (``-P
ubuntu-latest=-self-hosted``) with a minimal environment; a ``sudo`` that runs its
command stands in for the runner's passwordless one when the tests run as root. The
``action`` job's ``uses: ./`` builds the Dockerfile: its image is built here once, with
host networking, under the name act gives it, and act runs it (``--rebuild=false``).

The ``runners`` job runs the runner suites, so act runs act there; it leaves this module
out (``--ignore``), so nothing runs itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import test_runner_act
from tests.helpers import ROOT, unavailable
from tests.runners import build_action_image

pytestmark = pytest.mark.runners
act = test_runner_act.act  # the pinned act, as the act suite finds it

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
STAND_INS = Path(__file__).resolve().parent / "ci_stand_ins"
# act's name for the image of the Docker action at the root of the repository (uses: ./)
ROOT_ACTION_IMAGE = "act-dockeraction:latest"


def ci() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def job_runs() -> list[tuple[str, str]]:
    """(job, matrix entry) for each job of ci.yml; "" where the job has no matrix."""
    runs = []
    for name, job in ci()["jobs"].items():
        versions = (job.get("strategy") or {}).get("matrix", {}).get("python")
        runs += [(name, f"python:{v}") for v in versions] if versions else [(name, "")]
    return runs


def stand_ins() -> dict[str, Path]:
    """``owner/name@ref`` of every action ci.yml fetches, to its stand-in folder."""
    found = {}
    for job in ci()["jobs"].values():
        for step in job["steps"]:
            uses = step.get("uses")
            if not uses or uses.startswith("./"):
                continue
            name = uses.partition("@")[0]
            folder = STAND_INS / name.rpartition("/")[2]
            assert name in ("actions/checkout", "actions/setup-python") and folder.is_dir(), \
                f"ci.yml uses {uses}, which has no stand-in in {STAND_INS}"
            found[uses] = folder
    return found


def interpreter(version: str) -> str | None:
    """The real executable of python<version> on PATH (a pyenv shim or a venv resolved),
    else of
    pyenv's newest X.Y.*."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"),
                  *sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")),
                          reverse=True)]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys._base_executable, "
                               "'%d.%d' % sys.version_info[:2])"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        executable, _, found = done.stdout.strip().rpartition(" ")
        if done.returncode == 0 and found == version and executable:
            return executable
    return None


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding this checkout's files as they are now, in one commit."""
    repo = tmp_path_factory.mktemp("ci") / "jdcdn-action"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() or source.is_symlink():  # a deleted file is still "cached"
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name, follow_symlinks=False)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(repo.parent),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "CI", "GIT_COMMITTER_NAME": "CI",
           "GIT_AUTHOR_EMAIL": "ci@example.com", "GIT_COMMITTER_EMAIL": "ci@example.com"}
    for args in (["init", "-q", "--initial-branch", "main"], ["add", "-A"],
                 ["commit", "-q", "-m", "the checkout under test"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, timeout=120,
                       capture_output=True)
    return repo


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for act's PATH: the matrix's interpreters, and a sudo where needed."""
    folder = tmp_path_factory.mktemp("ci-bin")
    for job in ci()["jobs"].values():
        for step in job["steps"]:
            version = str((step.get("with") or {}).get("python-version", ""))
            for v in (job.get("strategy") or {}).get("matrix", {}).get("python", []) \
                    if "matrix." in version else [version] if version else []:
                found = interpreter(str(v))
                link = folder / f"python{v}"
                if found and not link.is_symlink():
                    link.symlink_to(found)
    if not shutil.which("sudo"):
        if os.geteuid() != 0:
            unavailable("no sudo, and not root: the image job's apt-get cannot run")
        sudo = folder / "sudo"
        sudo.write_text('#!/bin/sh\n# the runner\'s passwordless sudo, run as root\n'
                        'exec "$@"\n')
        sudo.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def root_action_image(snapshot: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[str]:
    """The image act would build for ``uses: ./``, built from the snapshot, and its tag
    removed after (act's name for it cannot be told apart per checkout)."""
    log = tmp_path_factory.mktemp("ci-image") / "build.log"
    build_action_image(snapshot, [ROOT_ACTION_IMAGE], log)
    yield ROOT_ACTION_IMAGE
    subprocess.run(["docker", "image", "rm", ROOT_ACTION_IMAGE], capture_output=True,
                   timeout=120)


def run_job(act: str, snapshot: Path, tools: Path, root: Path, job: str, matrix: str
            ) -> subprocess.CompletedProcess:
    cache, home = root / "act-cache", root / "home"
    for folder in (cache, home):
        folder.mkdir(exist_ok=True)
    command = [act, "push", "--workflows", str(WORKFLOW.relative_to(ROOT)), "--job", job,
               "-P", "ubuntu-latest=-self-hosted", "--pull=false", "--rebuild=false",
               "--no-cache-server", "--no-skip-checkout", "--action-offline-mode",
               "--action-cache-path", str(cache),
               "--container-options", f"--network host -v {cache}:{cache}",
               "--env", f"JDCDN_CHECKOUT_SOURCE={snapshot}"]
    for uses, folder in stand_ins().items():
        command += ["--local-repository", f"{uses}={folder}"]
    if matrix:
        command += ["--matrix", matrix]
    env = {"PATH": os.pathsep.join([str(tools), "/usr/local/bin", "/usr/bin", "/bin"]),
           "HOME": str(home), "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": str(root.parent / "pip-cache")}  # one cache for the module
    # Not the jobs' business, only this machine's: its Docker engine, the image tags of
    # this checkout (another may build on the same engine), and how it reaches the package
    # registries (a proxy, or a CA that npm with --prefix reads only from the environment).
    for name in ("DOCKER_HOST", "JDCDN_TEST_IMAGE", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY",
                 "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return subprocess.run(command, cwd=snapshot, env=env, capture_output=True, text=True,
                          timeout=3600, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("job, matrix", job_runs(),
                         ids=[f"{job}-{matrix}" if matrix else job for job, matrix in job_runs()])
def test_each_job_of_ci_yml_passes_under_act(act, snapshot, tools, tmp_path, request,
                                              job, matrix):
    if job == "test":
        version = matrix.partition(":")[2]
        if not (tools / f"python{version}").exists():
            unavailable(f"no python{version} on this machine for the test job's matrix")
    if job == "action":
        request.getfixturevalue("root_action_image")
    done = run_job(act, snapshot, tools, tmp_path, job, matrix)
    log = done.stdout + done.stderr

    assert done.returncode == 0, log[-20000:]
    assert "🏁  Job succeeded" in log and "❌" not in log, log[-20000:]
    assert "checked out" in log  # the stand-in's clone, not act's copy of the folder
    if job == "test":
        summary = [line for line in log.splitlines() if re.search(r"\d+ passed", line)]
        assert summary and not re.search(r"\d+ (failed|error)", summary[-1]), summary
