"""The release workflow's git steps, run for real against a local origin.

``.github/workflows/release.yml`` is read, and its version check and its release-commit
step run in bash as the runner runs them (``bash -e -o pipefail``), in a clone of a small
repository with the project's action.yml, pin script and version, pushing to a bare
``file://`` origin. The image steps need GHCR and are left out: the digest they would find
is given as ``PINNED``. What must hold: the tags point at a commit whose only changes are
action.yml and the GitLab component naming the image by digest, vX moves and vX.Y.Z never
does, main is not pushed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.gitrepo import git_env, run_git
from tests.helpers import ROOT, unavailable, yaml_file

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
VERSION = __import__("jdcdn_action").__version__
DIGEST = "sha256:" + "ab" * 32
PINNED = f"ghcr.io/octo-org/jdcdn-action@{DIGEST}"
COMPONENT = "templates/refresh.yml"
UNRELEASED = "registry.invalid/jdcdn-action:unreleased"


def component_image(text: str) -> str:
    return next(yaml.safe_load_all(text))["spec"]["inputs"]["image"]["default"]


def workflow() -> dict:
    return yaml_file(WORKFLOW)


def step(name_start: str) -> str:
    steps = workflow()["jobs"]["release"]["steps"]
    found = [s["run"] for s in steps if s.get("name", "").startswith(name_start)]
    assert len(found) == 1, f"no single step named {name_start!r}"
    return found[0]


class Project:
    """An origin with the release's inputs on main, and the runner's checkout of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.origin = root / "origin.git"
        run_git(root, self.home, "init", "--quiet", "--bare", "--initial-branch", "main",
                str(self.origin))
        author = root / "author"
        author.mkdir()
        run_git(author, self.home, "init", "--quiet", "--initial-branch", "main")
        for name in ("action.yml", COMPONENT, ".github/scripts/pin_image.py",
                     "jdcdn_action/__init__.py", "CHANGELOG.md"):
            (author / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, author / name)
        # The maintainer dates the version's entry before releasing it.
        changelog = author / "CHANGELOG.md"
        changelog.write_text(changelog.read_text(encoding="utf-8").replace(
            "## [Unreleased]", f"## [{VERSION}] - 2026-12-01", 1), encoding="utf-8")
        run_git(author, self.home, "add", "--all")
        run_git(author, self.home, "commit", "--quiet", "-m", "main")
        run_git(author, self.home, "push", "--quiet", self.origin.as_uri(), "main")
        self.main = run_git(author, self.home, "rev-parse", "HEAD")
        self.checkout = root / "checkout"
        run_git(root, self.home, "clone", "--quiet", self.origin.as_uri(), str(self.checkout))
        self.summary = root / "summary.md"
        self.summary.write_text("")
        self.env_file = root / "github_env"
        self.env_file.write_text("")

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        """A step's script as the runner runs it: bash -e -o pipefail, in the checkout."""
        step_env = git_env(self.home) | {
            "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_ENV": str(self.env_file),
            # the push goes to "$SERVER/$REPOSITORY.git": the local origin
            "SERVER": self.root.as_uri(), "REPOSITORY": "origin", "TOKEN": "not-a-token",
        } | env
        return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c",
                               script], cwd=self.checkout, env=step_env, capture_output=True,
                              text=True, timeout=120)

    def git(self, *args: str) -> str:
        return run_git(self.origin, self.home, *args)

    def release(self, version: str = VERSION) -> subprocess.CompletedProcess[str]:
        major = version.split(".")[0]
        return self.run(step("release commit"), VERSION=version, MAJOR=major,
                        PINNED=PINNED)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    if not shutil.which("git"):
        unavailable("no git")
    return Project(tmp_path)


def test_the_release_is_run_by_hand_with_a_version_and_least_permissions():
    meta = workflow()
    triggers = meta.get("on", meta.get(True))  # YAML 1.1 reads a bare `on` as true
    assert list(triggers) == ["workflow_dispatch"]
    assert triggers["workflow_dispatch"]["inputs"]["version"]["required"] is True
    assert meta["permissions"] == {"contents": "read"}
    assert meta["jobs"]["release"]["permissions"] == {"contents": "write",
                                                      "packages": "write"}


def test_version_check_accepts_main_and_the_packages_version(project):
    done = project.run(step("check the version"), VERSION=VERSION, REF="refs/heads/main",
                       OWNER="Octo-Org")
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.env_file.read_text().splitlines() == [
        f"VERSION={VERSION}", f"MAJOR={VERSION.split('.')[0]}",
        "IMAGE=ghcr.io/octo-org/jdcdn-action"]


@pytest.mark.parametrize(("version", "ref", "message"), [
    (VERSION, "refs/heads/feature", "run the release on main"),
    ("9.9.9", "refs/heads/main", "is not jdcdn_action.__version__"),
    (f"v{VERSION}", "refs/heads/main", "version must be X.Y.Z"),
    (f"{VERSION}; true", "refs/heads/main", "version must be X.Y.Z"),
])
def test_version_check_refuses(project, version, ref, message):
    done = project.run(step("check the version"), VERSION=version, REF=ref, OWNER="octo")
    assert done.returncode != 0
    assert message in done.stdout
    assert project.env_file.read_text() == ""


@pytest.mark.parametrize("heading", [None, "## [Unreleased]", f"## [{VERSION}]",
                                     f"## [{VERSION}] - soon", f"## [{VERSION}.1] - 2026-12-01"])
def test_version_check_needs_a_dated_changelog_entry_for_the_version(project, heading):
    changelog = project.checkout / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    dated = f"## [{VERSION}] - 2026-12-01"
    assert dated in text
    changelog.write_text(text.replace(dated, heading or "## Other"), encoding="utf-8")
    done = project.run(step("check the version"), VERSION=VERSION, REF="refs/heads/main",
                       OWNER="octo")
    assert done.returncode != 0
    assert f"CHANGELOG.md has no dated entry for {VERSION}" in done.stdout
    assert project.env_file.read_text() == ""


def test_the_changelog_has_an_entry_for_the_packages_version_or_unreleased():
    """Main's changelog says what the next release changes: its version's entry, or an
    Unreleased one that the release dates."""
    import re

    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings and headings[0] in ("Unreleased", VERSION), headings
    for section in ("### Added", "### Changed", "### Fixed", "### Security"):
        assert section in text.split("\n## [", 2)[1], section


def test_version_check_refuses_a_component_that_names_an_image_on_main(project):
    component = project.checkout / COMPONENT
    component.write_text(component.read_text().replace(UNRELEASED, PINNED))
    done = project.run(step("check the version"), VERSION=VERSION, REF="refs/heads/main",
                       OWNER="octo")
    assert done.returncode != 0
    assert "templates/refresh.yml on main must name no image" in done.stdout


def test_release_commit_changes_only_the_image_references_and_is_what_the_tags_name(project):
    done = project.release()
    assert done.returncode == 0, done.stdout + done.stderr

    tagged = project.git("rev-parse", f"v{VERSION}^{{commit}}")
    major = VERSION.split(".")[0]
    assert project.git("rev-parse", f"v{major}^{{commit}}") == tagged
    assert project.git("rev-parse", f"{tagged}^") == project.main
    assert project.git("diff", "--name-only", project.main, tagged).splitlines() == [
        "action.yml", COMPONENT]
    action = yaml.safe_load(project.git("show", f"{tagged}:action.yml"))
    assert action["runs"] == {"using": "docker", "image": f"docker://{PINNED}"}
    assert component_image(project.git("show", f"{tagged}:{COMPONENT}")) == PINNED
    # main on origin is untouched: it still builds the Dockerfile and names no image
    assert project.git("rev-parse", "refs/heads/main") == project.main
    assert project.git("for-each-ref", "--format=%(refname)", "refs/heads") == \
        "refs/heads/main"
    assert yaml.safe_load(project.git("show", "main:action.yml"))["runs"]["image"] == \
        "Dockerfile"
    assert component_image(project.git("show", f"main:{COMPONENT}")) == UNRELEASED
    assert f"{project.main}" not in project.summary.read_text()
    assert f"@{tagged} # v{VERSION}" in project.summary.read_text()


def test_a_released_version_is_never_moved_and_vx_follows_the_newest(project):
    assert project.release().returncode == 0
    first = project.git("rev-parse", f"v{VERSION}^{{commit}}")
    # the same version again, from a fresh checkout: refused by the version check...
    shutil.rmtree(project.checkout)
    run_git(project.root, project.home, "clone", "--quiet", project.origin.as_uri(),
            str(project.checkout))
    check = project.run(step("check the version"), VERSION=VERSION, REF="refs/heads/main",
                        OWNER="octo")
    assert check.returncode != 0 and "exists already" in check.stdout
    # ...and by the push itself (atomic: vX does not move either)
    again = project.release()
    assert again.returncode != 0
    assert project.git("rev-parse", f"v{VERSION}^{{commit}}") == first
    # a newer version of the same major moves vX to its release commit
    newer = ".".join([*VERSION.split(".")[:2], str(int(VERSION.split(".")[2]) + 1)])
    shutil.rmtree(project.checkout)
    run_git(project.root, project.home, "clone", "--quiet", project.origin.as_uri(),
            str(project.checkout))
    assert project.release(newer).returncode == 0
    major = VERSION.split(".")[0]
    assert project.git("rev-parse", f"v{major}^{{commit}}") == \
        project.git("rev-parse", f"v{newer}^{{commit}}") != first


def test_nothing_is_tagged_when_pinning_is_refused(project):
    done = project.run(step("release commit"), VERSION=VERSION, MAJOR="0",
                       PINNED="ghcr.io/octo-org/jdcdn-action:latest")
    assert done.returncode != 0
    assert project.git("tag", "--list") == ""
    assert os.path.getsize(project.summary) == 0
