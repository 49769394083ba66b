"""The GitLab CI/CD component (templates/refresh.yml) under gitlab-ci-local.

Each scenario includes the component the way GitLab's docs have a component project test
itself, ``component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/refresh@$CI_COMMIT_SHA``, from a
scratch project whose ``origin`` is a GitLab URL (gitlab-ci-local then reads the template
from the work tree; see tests/gitlab_ci_local.py). The settings go in as inputs only, never
as ``--variable`` (which would outrank the job's variables); the credentials are project
CI/CD variables in a file outside the project. Every input given is one the component
declares, since GitLab refuses the others and gitlab-ci-local would ignore them.

- the README's include, with OpenAPI keys, in a push pipeline with ``git-diff`` and awkward
  ``paths``: the fake gateway gets every URL, and a later job reads the dotenv;
- ``as`` names the job and ``stage`` places it; typed, multi-line and awkward values reach
  the command exactly as the same values given directly do;
- a wrong secret: the job fails with one error line, keeps its report and dotenv, and
  neither the secret nor a signature is in the log or anywhere in the project;
- the repository's own .gitlab-ci.yml: which jobs a branch and a release tag get, and its
  component jobs run at this commit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, parse_dotenv
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitlab_ci_local import (
    BASE_URL,
    Pipeline,
    gitlab_variables,
    job,
    push_three_commits,
    run_pipeline,
    site_repo,
)
from tests.gitrepo import Repo, run_git
from tests.runners import (
    ACTION_FOLDER,
    ROOT,
    assert_no_secret,
    assert_no_secret_on_disk,
)

pytestmark = pytest.mark.runners

COMPONENT = ROOT / "templates" / "refresh.yml"
ORIGIN = "https://gitlab.example.com/jdcdn/jdcdn-action.git"
ADDRESS = "$CI_SERVER_FQDN/$CI_PROJECT_PATH/refresh@$CI_COMMIT_SHA"
OPENAPI_KEYS = {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET}
# One entry per line: `#`, `: `, quotes, brackets, a backslash, `$$` (a literal `$` after
# GitLab's variable expansion), braces and `&`, `*`, `!` that YAML would read as syntax.
AWKWARD_PATHS = "\n".join([
    "docs/a #1.html", 'docs/b: "q" it\'s.html', "[id].html", "back\\slash.html",
    "price $$5.html", "{braces} & *star* !bang.html"]) + "\n"
DOTENV_KEYS = ("TASK_IDS", "TASK_ID", "URL_COUNT", "DIR_COUNT", "BATCH_COUNT", "FAILED_COUNT")


def declared_inputs() -> set[str]:
    return set(next(yaml.safe_load_all(COMPONENT.read_text(encoding="utf-8")))["spec"]["inputs"])


def include(inputs: dict[str, object]) -> dict:
    """The component at this commit, with ``inputs`` (all of them declared)."""
    undeclared = set(inputs) - declared_inputs()
    assert not undeclared, f"GitLab would refuse undeclared inputs {undeclared}"
    return {"component": ADDRESS, "inputs": inputs}


def component_project(root: Path) -> tuple[Repo, str]:
    """A site whose origin is a GitLab project holding the component; returns the
    repository and its last commit."""
    repo, _ = site_repo(root)
    repo.git("remote", "add", "origin", ORIGIN)
    return repo, repo.commit("the component", **{
        "templates/refresh.yml": COMPONENT.read_text(encoding="utf-8")})


def dotenv_job(image: str, needs: str, stage: str) -> dict:
    """A later job that prints the dotenv variables it received from ``needs``."""
    return job(image, [f'for v in {" ".join(DOTENV_KEYS)}; do eval "echo JDCDN_$v=\\$JDCDN_$v"; '
                       "done"], stage=stage, needs=[needs])


def printed_urls(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith(("http://", "https://"))]


def dry_run_urls(variables: dict[str, str]) -> list[str]:
    """The URLs the command plans from these ``JDCDN_*`` variables, given directly."""
    env = {"PATH": os.environ["PATH"], "JDCDN_DRY_RUN": "true", **variables}
    done = subprocess.run([sys.executable, "-m", "jdcdn_action"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=ROOT / "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    return printed_urls(done.stdout.splitlines())


def readme_component_example() -> dict:
    """The README's component include, parsed as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## GitLab CI\n"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "README's GitLab CI section has no yaml block"
    assert len(block.group(1).splitlines()) <= 10
    return yaml.safe_load(block.group(1))


# -- the README's include --------------------------------------------------------------------
def test_readme_include_with_openapi_keys_refreshes_the_push_and_passes_dotenv(
        gcl, images, fake_openapi, tmp_path):
    repo, before = component_project(tmp_path)
    expected = set(push_three_commits(repo)) | set(
        dry_run_urls({"JDCDN_BASE_URL": BASE_URL, "JDCDN_PATHS": AWKWARD_PATHS.replace(
            "$$", "$")}))
    (example,) = readme_component_example()["include"]
    assert re.fullmatch(r"\$CI_SERVER_FQDN/[\w.-]+/jdcdn-action/refresh@\d+\.\d+\.\d+",
                        example["component"])
    # The README's inputs as written; the image built here, the fake gateway, the paths.
    inputs = {**example["inputs"], "image": images.gitlab, "paths": AWKWARD_PATHS,
              "api-endpoint": fake_openapi.endpoint, "timeout": 5}
    ci = {"include": [include(inputs)], "stages": ["deploy", "verify"],
          "check-dotenv": dotenv_job(images.gitlab, "jdcdn-refresh", "verify")}

    run = run_pipeline(gcl, repo.path, ci, secrets=OPENAPI_KEYS, variables=gitlab_variables(
        CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_BRANCH="main"))

    assert run.code == 0 and run.passed("jdcdn-refresh") and run.passed("check-dotenv"), \
        run.log
    assert any("(openapi API)" in line for line in run.job("jdcdn-refresh")), run.log
    assert fake_openapi.refreshed("url") == expected
    task_ids = fake_openapi.task_ids()
    assert run.value("check-dotenv", "JDCDN_TASK_IDS").split(",") == task_ids
    assert run.value("check-dotenv", "JDCDN_TASK_ID") == task_ids[0]
    assert run.value("check-dotenv", "JDCDN_URL_COUNT") == str(len(expected))
    assert run.value("check-dotenv", "JDCDN_FAILED_COUNT") == "0"
    assert (run.project / ".gitlab-ci-local" / "artifacts" / "jdcdn-refresh" /
            "jdcdn-report.json").is_file()
    assert_no_secret("gitlab-ci-local's log", run.log, ACCESS_KEY_SECRET)
    assert_no_secret_on_disk(run.project, ACCESS_KEY_SECRET)


# -- as, stage and the values ----------------------------------------------------------------
AS_STAGE_INPUTS: dict[str, object] = {
    "as": "cdn-purge", "stage": "publish", "dry-run": True, "max-urls": 100,
    "base-url": "https://www.example.com/\nhttps://cdn.example.com/static/\n",
    "paths": AWKWARD_PATHS + "img/\n", "type": "auto", "index-files": "none",
    "signature-timezone": "Asia/Shanghai"}


@pytest.fixture(scope="module")
def as_stage_pipeline(gcl, images, tmp_path_factory) -> Iterator[tuple[Pipeline, str]]:
    repo, _ = component_project(tmp_path_factory.mktemp("component-as"))
    with FakeJd() as fake_jd:  # a dry run: nothing may reach it
        ci = {"stages": ["build", "publish", "report"],
              "include": [include({**AS_STAGE_INPUTS, "image": images.gitlab,
                                   "api-endpoint": fake_jd.endpoint})],
              "build": job(images.gitlab, ["echo built"], stage="build"),
              "report": dotenv_job(images.gitlab, "cdn-purge", "report")}
        variables = gitlab_variables(CI_PIPELINE_SOURCE="push")
        listed = run_pipeline(gcl, repo.path, ci, variables=variables, options=("--list",))
        yield run_pipeline(gcl, repo.path, ci, variables=variables), listed.stdout
        assert fake_jd.calls == []


def test_as_names_the_job_and_stage_places_it(as_stage_pipeline):
    run, listed = as_stage_pipeline
    rows = listed_jobs(listed)
    assert rows == {"build": "build", "cdn-purge": "publish", "report": "report"}, listed
    assert run.code == 0 and run.passed("cdn-purge") and run.passed("report"), run.log
    # the stage's order: the build stage's job finished before cdn-purge started
    assert run.log.index("build finished") < run.log.index("cdn-purge starting"), run.log
    assert run.value("report", "JDCDN_BATCH_COUNT") == "2"  # the files, the directories


def test_input_values_reach_the_command_as_given_directly(as_stage_pipeline):
    """Multi-line, typed and awkward inputs, through the component's variables, plan the
    same URLs as the same values given to the command directly."""
    run, _ = as_stage_pipeline
    direct = dry_run_urls({
        "JDCDN_BASE_URL": str(AS_STAGE_INPUTS["base-url"]),
        "JDCDN_PATHS": str(AS_STAGE_INPUTS["paths"]).replace("$$", "$"),
        "JDCDN_INDEX_FILES": "none", "JDCDN_MAX_URLS": "100"})
    assert len(direct) == 14 and any("%5C" in url for url in direct), direct
    assert printed_urls(run.job("cdn-purge")) == direct
    assert run.value("report", "JDCDN_URL_COUNT") == "12"  # and two directories
    assert run.value("report", "JDCDN_DIR_COUNT") == "2"


# -- a wrong secret --------------------------------------------------------------------------
WRONG_SECRET = "oa-not-the-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def wrong_secret_pipeline(gcl, images, tmp_path_factory
                          ) -> Iterator[tuple[Pipeline, FakeOpenApi]]:
    repo, _ = component_project(tmp_path_factory.mktemp("component-wrong-secret"))
    with FakeOpenApi(ACCESS_KEY_ID, ACCESS_KEY_SECRET) as fake:
        ci = {"include": [include({
            "image": images.gitlab, "base-url": BASE_URL, "paths": "index.html\ncss/site.css",
            "api-endpoint": fake.endpoint, "timeout": 5})]}
        yield run_pipeline(gcl, repo.path, ci, secrets={
            "JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": WRONG_SECRET},
            variables=gitlab_variables(CI_PIPELINE_SOURCE="push")), fake


def test_wrong_secret_fails_the_job_with_one_error_line(wrong_secret_pipeline):
    run, fake = wrong_secret_pipeline
    assert run.code != 0 and not run.passed("jdcdn-refresh"), run.log
    errors = [line for line in run.job("jdcdn-refresh") if line.startswith("error:")]
    assert len(errors) == 1, run.log
    assert "HTTP 401" in errors[0] and "access-key-secret" in errors[0], errors[0]
    assert len(fake.calls) == 1 and fake.calls[0].code == 401  # nothing after the refusal
    assert "Traceback" not in run.log


def test_wrong_secret_keeps_the_report_and_dotenv_and_leaks_nothing(wrong_secret_pipeline):
    run, _ = wrong_secret_pipeline
    artifacts = run.project / ".gitlab-ci-local" / "artifacts" / "jdcdn-refresh"
    dotenv = parse_dotenv((artifacts / ".gitlab-ci-reports" / "dotenv" / "jdcdn.env")
                          .read_text())
    assert (dotenv["JDCDN_TASK_IDS"], dotenv["JDCDN_FAILED_COUNT"]) == ("", "3")
    assert (artifacts / "jdcdn-report.json").is_file()
    assert_no_secret("gitlab-ci-local's log", run.log, WRONG_SECRET)
    assert_no_secret_on_disk(run.project, WRONG_SECRET)


# -- the repository's own pipeline -----------------------------------------------------------
def repository_copy(root: Path) -> Repo:
    """This checkout's files (tracked and new, not ignored) in a repository whose origin
    is the GitLab copy, committed: what a pipeline of that copy checks out."""
    target = root / "jdcdn-action"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    home = root / "git-home"
    home.mkdir()
    run_git(target, home, "init", "--quiet", "--initial-branch", "main")
    repo = Repo(target, home)
    repo.git("remote", "add", "origin", ORIGIN)
    repo.commit("this checkout")
    return repo


def listed_jobs(log: str) -> dict[str, str]:
    """gitlab-ci-local --list: job name -> stage."""
    lines = log.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("name "))
    return {line.split()[0]: line.split()[1] for line in lines[header + 1:] if line.strip()}


@pytest.mark.parametrize(("tag", "jobs"), [
    ("", {"build-image": "build", "component-test": "test", "settings-sync": "test",
          "component-dotenv": "verify"}),
    ("v1.2.3", {"component-test": "test", "settings-sync": "test",
                "component-dotenv": "verify", "release-check": "verify",
                "catalog-release": "release"}),
    ("v1", {"component-test": "test", "settings-sync": "test", "component-dotenv": "verify"}),
])
def test_the_repositorys_pipeline_has_test_jobs_always_and_release_jobs_on_release_tags(
        gcl, tmp_path, tag, jobs):
    repo = repository_copy(tmp_path)
    variables = {"CI_COMMIT_TAG": tag} if tag else {}
    listed = run_pipeline(gcl, repo.path, None, variables=variables, options=("--list",))
    assert listed.code == 0, listed.log
    assert listed_jobs(listed.stdout) == jobs, listed.log
    preview = run_pipeline(gcl, repo.path, None, variables=variables, options=("--preview",))
    image = yaml.safe_load(preview.stdout)["component-test"]["image"]["name"]
    assert image == ("registry.invalid/jdcdn-action:unreleased" if tag else
                     "$CI_REGISTRY_IMAGE/ci:$CI_COMMIT_SHA")


def test_the_repositorys_component_jobs_run_at_this_commit(gcl, images, tmp_path):
    """component-test and component-dotenv of .gitlab-ci.yml, as a branch pipeline runs
    them: the component at $CI_COMMIT_SHA with the image build-image would have pushed
    (the one built here, under that name), and a later job checks its dotenv."""
    repo = repository_copy(tmp_path)
    registry = f"{ACTION_FOLDER}-registry"
    built = f"{registry}/ci:{repo.head()}"
    tagged = subprocess.run(["docker", "tag", images.gitlab, built], capture_output=True,
                            text=True, timeout=60)
    assert tagged.returncode == 0, tagged.stderr
    try:
        run = run_pipeline(gcl, repo.path, None, variables={"CI_REGISTRY_IMAGE": registry},
                           jobs=("component-test", "component-dotenv"))
    finally:
        subprocess.run(["docker", "rmi", built], capture_output=True, timeout=60)
    assert run.code == 0 and run.passed("component-test") and run.passed("component-dotenv"), \
        run.log
    assert f"component-test starting {built}" in run.log
    assert "https://www.example.com/price%20$5.html" in printed_urls(run.job("component-test"))
