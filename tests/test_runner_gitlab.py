"""The image as a GitLab CI job under gitlab-ci-local: the plain job of docs/gitlab.md (with
legacy and with OpenAPI keys), dotenv artifacts passed to a later job, push and
merge-request pipelines, shallow clones. How gitlab-ci-local is run:
``tests/gitlab_ci_local.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.gitlab_ci_local import (
    BASE_URL,
    Pipeline,
    endpoint_variables,
    gitlab_variables,
    job,
    push_three_commits,
    run_pipeline,
    site_repo,
)
from tests.gitrepo import Origin
from tests.runners import (
    ROOT,
    Images,
    assert_no_secret,
    assert_no_secret_on_disk,
)

pytestmark = pytest.mark.runners

ZERO = "0" * 40


CREDENTIALS = {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET}


def plain_job_example() -> dict:
    """The plain GitLab CI job of docs/gitlab.md, parsed as written."""
    text = (ROOT / "docs" / "gitlab.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Without the catalog: the plain job\n"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "docs/gitlab.md's plain job has no yaml block"
    return yaml.safe_load(block.group(1))


# -- the documented plain job ----------------------------------------------------------------
def plain_job_pipeline(gcl: str, images: Images, root: Path, fake: FakeJd | FakeOpenApi,
                       secrets: dict[str, str]) -> tuple[Pipeline, str, list[str]]:
    """The documented plain job in a push pipeline of three commits, the credentials given
    as project CI/CD variables, and a later job (``needs:`` it) that prints the dotenv
    variables it received. Returns the run, the job's name and the URLs the push must
    refresh."""
    repo, before = site_repo(root)
    expected = push_three_commits(repo)
    ci = plain_job_example()
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


def test_plain_job_push_pipeline_passes_dotenv_to_a_later_job(gcl, images, fake_jd, tmp_path):
    run, name, expected = plain_job_pipeline(gcl, images, tmp_path, fake_jd, CREDENTIALS)

    assert run.code == 0 and run.passed(name) and run.passed("check-dotenv"), run.log
    assert fake_jd.refreshed() == set(expected)
    assert_dotenv_reached_the_later_job(run, [c.answer["taskid"] for c in fake_jd.accepted()])
    assert not any("::" in line for line in run.job(name))  # no GitHub commands here
    assert_no_secret("gitlab-ci-local's log", run.log, SECRET)
    assert_no_secret_on_disk(run.project / ".gitlab-ci-local" / "artifacts", SECRET)


def test_plain_job_with_openapi_keys_passes_dotenv_to_a_later_job(
        gcl, images, fake_openapi, tmp_path):
    """The documented plain job as a user with OpenAPI keys runs it: JDCDN_ACCESS_KEY_ID
    and JDCDN_ACCESS_KEY_SECRET as project CI/CD variables instead of the legacy key. The
    fake gateway checked the signature; the later job gets its task ID through dotenv."""
    run, name, expected = plain_job_pipeline(gcl, images, tmp_path, fake_openapi, {
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
