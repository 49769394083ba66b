"""The image, run the way GitHub's runner runs a container action and as a GitLab CI job.

The image is built once per session from the Dockerfile as written (where no registry can
be reached, FROM the local base that the shared ``docker-offline.sh`` makes). Each run
mounts real folders and a real git checkout owned by another uid than the container's
root, reaches the fake JD server on 127.0.0.1 through ``--network host``, and is checked
the way the runner reads it: the outputs file, the summary, the exit code, and the secret
and its signatures nowhere in the log or on disk. The OpenAPI keys path runs the same way
against the fake OpenAPI gateway, which checks every signature as received.

Without a Docker engine these tests are skipped, except under CI (``CI=true``), where
they must run; ``JDCDN_SKIP_CONTAINER_TESTS=1`` leaves them to another job.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.container import (
    GitHubJob,
    Site,
    gitlab_job,
    make_site,
    tree_listing,
)
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Repo, run_git
from tests.helpers import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    BASE,
    SECRET,
    SECURITY_TOKEN,
    USERNAME,
)


def endpoint_inputs(fake_jd: FakeJd) -> dict[str, str]:
    return {"username": USERNAME, "secret-key": SECRET, "api-endpoint": fake_jd.endpoint,
            "base-url": BASE, "timeout": "5"}


def test_runner_style_run_sends_sets_outputs_and_summary(image, fake_jd, tmp_path):
    job = GitHubJob(tmp_path)
    site = make_site(job.workspace)
    before = tree_listing(site.path)
    run = job.run(image, endpoint_inputs(fake_jd) | {
        "paths": "index.html\ncss/site.css\nimg/", "dry-run": "no"})

    assert run.code == 0, run.log
    urls = [BASE, BASE + "css/site.css", BASE + "index.html"]
    assert run.json_output("urls") == urls
    assert run.json_output("dirs") == [BASE + "img/"]
    task_ids = run.json_output("task-ids")  # in batch order; the calls ran concurrently
    assert sorted(task_ids) == sorted(c.answer["taskid"] for c in fake_jd.accepted())
    assert len(task_ids) == 2
    assert run.outputs["task-id"] == task_ids[0]
    assert run.json_output("failed") == []
    assert (run.outputs["url-count"], run.outputs["dir-count"],
            run.outputs["batch-count"]) == ("3", "1", "2")
    # The path is the container's; the runner's host sees it under its RUNNER_TEMP.
    assert run.outputs["report-file"] == "/github/runner_temp/jdcdn-report.json"
    assert run.report is not None and [b["task_id"] for b in run.report["batches"]] == task_ids
    assert fake_jd.refreshed("file") == set(urls)
    assert all(task_id in run.summary for task_id in task_ids)
    assert f"::add-mask::{SECRET}" in run.stdout  # masked first: the runner hides it
    # Nothing written into the checkout: no report, no byte code.
    assert tree_listing(site.path) == before


def openapi_inputs(fake_openapi: FakeOpenApi) -> dict[str, str]:
    return {"access-key-id": ACCESS_KEY_ID, "access-key-secret": ACCESS_KEY_SECRET,
            "api-endpoint": fake_openapi.endpoint, "base-url": BASE, "timeout": "5"}


def test_runner_style_run_with_openapi_sts_keys(image, fake_openapi, tmp_path):
    """Temporary (STS) OpenAPI keys as inputs: the fake gateway accepted every signature
    and token, the outputs and summary hold its task IDs, and the secret, the token and
    every signature the gateway saw are masked and nowhere in the log or on disk."""
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    job = GitHubJob(tmp_path)
    site = make_site(job.workspace)
    before = tree_listing(site.path)
    run = job.run(image, openapi_inputs(fake_openapi) | {
        "security-token": SECURITY_TOKEN, "paths": "index.html\ncss/site.css\nimg/"})

    assert run.code == 0, run.log
    urls = [BASE, BASE + "css/site.css", BASE + "index.html"]
    assert run.json_output("urls") == urls
    task_ids = run.json_output("task-ids")
    assert len(task_ids) == 2 and sorted(task_ids) == sorted(fake_openapi.task_ids())
    assert run.outputs["task-id"] == task_ids[0]
    assert run.json_output("failed") == []
    assert (run.outputs["url-count"], run.outputs["dir-count"],
            run.outputs["batch-count"]) == ("3", "1", "2")
    assert fake_openapi.refreshed("url") == set(urls)
    assert fake_openapi.refreshed("dir") == {BASE + "img/"}
    assert len(fake_openapi.requests()) == 2  # no retries: each call was accepted as sent
    assert len(fake_openapi.requests("/v1/user:quota")) == 1  # the quota, read first
    assert all(c.headers["x-jdcloud-security-token"] == SECURITY_TOKEN
               for c in fake_openapi.accepted())
    assert run.report is not None and run.report["settings"]["api"] == "openapi"
    assert all(task_id in run.summary for task_id in task_ids)
    for secret in (ACCESS_KEY_SECRET, SECURITY_TOKEN):  # masked first: the runner hides it
        assert f"::add-mask::{secret}" in run.stdout
    # job.run found none of these in the log or under the job's folders.
    signatures = {c.headers["Authorization"].rsplit("=", 1)[1] for c in fake_openapi.calls}
    assert signatures <= FakeOpenApi.SIGNATURES_SEEN
    assert tree_listing(site.path) == before


def test_runner_style_push_event_refreshes_the_changed_files(image, fake_jd, tmp_path):
    job = GitHubJob(tmp_path)
    site = make_site(job.workspace)
    event = {"ref": "refs/heads/main", "before": site.before, "after": site.after,
             "forced": False, "created": False, "deleted": False,
             "repository": {"full_name": "octo/site", "default_branch": "main"},
             "head_commit": {"id": site.after}}
    run = job.run(image, endpoint_inputs(fake_jd) | {"git-diff": "true",
                                                     "source-dir": "public"},
                  event_name="push", event=event, sha=site.after)

    assert run.code == 0, run.log
    assert run.json_output("urls") == list(Site.changed_urls)
    assert fake_jd.refreshed() == set(Site.changed_urls)
    assert run.outputs["task-id"] == fake_jd.accepted()[0].answer["taskid"]


ORIGIN_INSIDE = "/srv/origin.git"
# A local origin belongs to whoever runs the tests; when that is not root (a CI user in the
# docker group), the container's git refuses it as "dubious ownership" (a server's origin
# has no owner to compare). Only then is it trusted, in the global config under $HOME.
TRUST_ORIGIN = f"[safe]\n\tdirectory = {ORIGIN_INSIDE}\n"


def bare_origin(site: Site, path: Path) -> Path:
    """A bare copy of the site, like a server's repository (outside the given-away job)."""
    run_git(site.path.parent, site.path.parent, "clone", "--quiet", "--bare", str(site.path),
            str(path))
    return path


def test_runner_style_push_from_a_depth_1_clone_fetches_the_base_from_origin(
        image, fake_jd, tmp_path):
    """actions/checkout's default depth 1: the push's base is not in the clone, so git-diff
    fetches it from origin. A file:// origin is served by git-upload-pack, which the image
    must have under git's exec-path, as it must have git-remote-https for GitHub's origin."""
    site = make_site(tmp_path / "author")
    origin = bare_origin(site, tmp_path / "origin.git")
    job = GitHubJob(tmp_path / "runner")
    job.workspace.parent.mkdir(parents=True)
    checkout = Repo.clone(origin.as_uri(), job.workspace, tmp_path, "--depth", "1")
    checkout.git("remote", "set-url", "origin", f"file://{ORIGIN_INSIDE}")
    if os.geteuid() != 0:
        (job.home / ".gitconfig").write_text(TRUST_ORIGIN)
    assert checkout.git("rev-parse", "--is-shallow-repository") == "true"
    event = {"ref": "refs/heads/main", "before": site.before, "after": site.after,
             "forced": False, "created": False, "deleted": False,
             "repository": {"full_name": "octo/site", "default_branch": "main"},
             "head_commit": {"id": site.after}}
    run = job.run(image, endpoint_inputs(fake_jd) | {"git-diff": "true",
                                                     "source-dir": "public"},
                  event_name="push", event=event, sha=site.after,
                  mounts=((origin, ORIGIN_INSIDE),))

    assert run.code == 0, run.log
    assert run.json_output("urls") == list(Site.changed_urls)
    assert fake_jd.refreshed() == set(Site.changed_urls)
    # the base arrived by fetch, and the clone stayed shallow (only what was needed)
    assert subprocess.run(["git", "-c", f"safe.directory={job.workspace}", "-C",
                           str(job.workspace), "cat-file", "-e", f"{site.before}^{{commit}}"],
                          capture_output=True, timeout=60).returncode == 0
    assert (job.workspace / ".git" / "shallow").is_file()


def test_image_git_reaches_file_and_https_origins(image, tmp_path):
    """The image's git is a few programs copied out of Debian's package, with only the
    libraries the base lacks: each transport must still load and run. A closed port on
    127.0.0.1 shows git-remote-https and its TLS libraries load (curl's own error, not a
    missing helper or library); ls-remote and a shallow clone of a file:// origin run
    git-upload-pack."""
    site = make_site(tmp_path / "author")
    origin = bare_origin(site, tmp_path / "origin.git")
    script = r"""
        set -u
        cd /tmp
        export HOME=/tmp
        if [ "$(stat -c %u /srv/origin.git)" != 0 ]; then printf '%s' "$TRUST" > .gitconfig; fi
        test -s /etc/ssl/certs/ca-certificates.crt || { echo "no CA certificates"; exit 1; }
        git ls-remote file:///srv/origin.git || exit 1
        git clone --quiet --depth 1 file:///srv/origin.git clone 2>&1 || exit 1
        test "$(git -C clone rev-parse --is-shallow-repository)" = true || exit 1
        git -C clone fetch --quiet --depth 2 origin 2>&1 || exit 1
        echo "commits: $(git -C clone rev-list --count HEAD)"
        out=$(git ls-remote https://127.0.0.1:9/none.git 2>&1)
        echo "https: $out"
        out=$(git remote-https 2>&1)
        echo "remote-https: $out"
    """
    done = subprocess.run(["docker", "run", "--rm", "--network", "none", "-e", "TRUST", "-v",
                           f"{origin}:{ORIGIN_INSIDE}:ro", "--entrypoint", "sh", image.tag,
                           "-c", script], env=os.environ | {"TRUST": TRUST_ORIGIN},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{site.after}\trefs/heads/main" in done.stdout, done.stdout
    assert "commits: 2" in done.stdout
    https = next(line for line in done.stdout.splitlines() if line.startswith("https: "))
    assert "Failed to connect to 127.0.0.1 port 9" in https, done.stdout
    assert "remote-curl: usage" in done.stdout
    for broken in ("not found", "cannot open shared object", "not a git command",
                   "templates not found", "error while loading"):
        assert broken not in done.stdout + done.stderr, done.stdout + done.stderr


def test_runner_style_dry_run_needs_no_key_and_sends_nothing(image, fake_jd, tmp_path):
    job = GitHubJob(tmp_path)
    make_site(job.workspace)
    run = job.run(image, {"base-url": BASE, "paths-file": "deploy/paths.yml",
                          "dry-run": "true", "api-endpoint": fake_jd.endpoint})

    assert run.code == 0, run.log
    assert run.json_output("urls") == [BASE, BASE + "css/site.css",
                                       BASE + "index.html"]
    assert run.json_output("task-ids") == [] and run.outputs["batch-count"] == "2"
    assert fake_jd.calls == []


def test_runner_style_missing_username_is_one_error_line_and_exit_2(image, fake_jd, tmp_path):
    job = GitHubJob(tmp_path)
    make_site(job.workspace)
    inputs = endpoint_inputs(fake_jd) | {"username": "", "paths": "index.html"}
    run = job.run(image, inputs)

    assert run.code == 2, run.log
    errors = [line for line in run.log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "username" in errors[0], run.log
    assert "Traceback" not in run.log
    assert fake_jd.calls == []


# -- GitLab CI -------------------------------------------------------------------------------
# The leak checks look for ACCESS_KEY_SECRET, so they find this one too.
WRONG_ACCESS_SECRET = ACCESS_KEY_SECRET + "-wrong"


def jdcdn_variables(fake_jd: FakeJd) -> dict[str, str]:
    return {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET,
            "JDCDN_API_ENDPOINT": fake_jd.endpoint, "JDCDN_BASE_URL": BASE,
            "JDCDN_TIMEOUT": "5"}


def test_gitlab_style_job_with_a_paths_file_writes_the_dotenv_report(image, fake_jd,
                                                                      tmp_path):
    site = make_site(tmp_path / "site")
    run = gitlab_job(image, site.path, jdcdn_variables(fake_jd) | {
        "JDCDN_PATHS_FILE": "deploy/paths.yml", "CI_PIPELINE_SOURCE": "web",
        "CI_COMMIT_SHA": site.after})

    assert run.code == 0, run.log
    assert run.report is not None and run.report["failed"] == {"files": [], "dirs": []}
    task_ids = [batch["task_id"] for batch in run.report["batches"]]
    assert sorted(task_ids) == sorted(c.answer["taskid"] for c in fake_jd.accepted())
    assert run.dotenv == {
        "JDCDN_TASK_IDS": ",".join(task_ids), "JDCDN_TASK_ID": task_ids[0],
        "JDCDN_URL_COUNT": "3", "JDCDN_DIR_COUNT": "1", "JDCDN_BATCH_COUNT": "2",
        "JDCDN_FAILED_COUNT": "0"}
    assert "::" not in run.stdout  # no workflow commands outside GitHub


def test_gitlab_style_push_pipeline_with_git_diff(image, fake_jd, tmp_path):
    site = make_site(tmp_path / "site")
    run = gitlab_job(image, site.path, jdcdn_variables(fake_jd) | {
        "JDCDN_GIT_DIFF": "true", "JDCDN_SOURCE_DIR": "public", "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BEFORE_SHA": site.before, "CI_COMMIT_SHA": site.after,
        "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
        script='jdcdn-refresh && test -s jdcdn.env')

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == set(Site.changed_urls)
    assert run.dotenv["JDCDN_URL_COUNT"] == "3"


def test_gitlab_style_missing_key_exits_2_and_sends_nothing(image, fake_jd, tmp_path):
    site = make_site(tmp_path / "site")
    variables = jdcdn_variables(fake_jd)
    del variables["JDCDN_SECRET_KEY"]
    run = gitlab_job(image, site.path, variables | {"JDCDN_PATHS": "index.html"},
                     script="jdcdn-refresh; echo exit=$?")

    assert "exit=2" in run.stdout, run.log
    assert "secret-key" in run.stderr and "Traceback" not in run.log
    assert fake_jd.calls == []


def test_gitlab_style_openapi_wrong_secret_is_exit_1_after_one_call(image, fake_openapi,
                                                                     tmp_path):
    """A GitLab job with OpenAPI keys whose secret is wrong: the gateway answers 401 to
    the first request (the quota read), the run sends no other, exits 1 and says which
    settings to check."""
    site = make_site(tmp_path / "site")
    run = gitlab_job(image, site.path, {
        "JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": WRONG_ACCESS_SECRET,
        "JDCDN_API_ENDPOINT": fake_openapi.endpoint, "JDCDN_BASE_URL": BASE,
        "JDCDN_TIMEOUT": "5", "JDCDN_CONCURRENCY": "1",  # two batches, one after the other
        "JDCDN_PATHS_FILE": "deploy/paths.yml", "CI_PIPELINE_SOURCE": "web",
        "CI_COMMIT_SHA": site.after})

    assert run.code == 1, run.log
    assert len(fake_openapi.calls) == 1 and fake_openapi.calls[0].code == 401, run.log
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors and "HTTP 401" in errors[-1], run.log
    assert "access-key-id" in errors[-1] and "access-key-secret" in errors[-1], errors[-1]
    assert run.dotenv["JDCDN_TASK_IDS"] == "" and run.dotenv["JDCDN_FAILED_COUNT"] == "4"
    assert "Traceback" not in run.log and "::" not in run.stdout
    # gitlab_job found neither the wrong secret nor its signature in the log or the project.
    assert WRONG_ACCESS_SECRET.startswith(ACCESS_KEY_SECRET)
    assert fake_openapi.calls[0].headers["Authorization"].rsplit("=", 1)[1] in \
        FakeOpenApi.SIGNATURES_SEEN


# -- the image itself ------------------------------------------------------------------------
def test_image_runs_as_root_with_git_sh_and_no_installer_or_caches(image):
    config = json.loads(subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config}}", image.tag],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    assert config.get("User") in (None, "", "root", "0")  # GitHub requires root
    assert config["Entrypoint"][-1] == "/opt/jdcdn/entrypoint.py"
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    script = r"""
        set -eu
        for tool in git jdcdn-refresh sh; do command -v "$tool" >/dev/null; done
        # git's programs only: not git's Perl (the base's perl-base is Debian's own), no
        # manuals, no other git-core programs
        ! test -e /usr/share/perl5/Git.pm && ! test -e /usr/share/man/man1/git.1.gz
        test "$(ls /usr/lib/git-core)" = "$(printf '%s\n' git git-remote-http \
            git-remote-https git-upload-pack)"
        git --version >/dev/null
        test "$(id -u)" = 0
        ! test -e /opt/jdcdn/bin/pip && ! test -e /src
        ! /opt/jdcdn/bin/python -c 'import pip' 2>/dev/null
        ! /opt/jdcdn/bin/python -c 'import setuptools' 2>/dev/null
        test -z "$(ls -A /var/lib/apt/lists)"
        # nothing of the repository but the package: no tests, caches or git data
        test -z "$(find / -xdev \( -name fake_jd.py -o -name conftest.py \
            -o -name .pytest_cache -o -name .ruff_cache -o -name .git \) -print)"
        test -z "$(find /root/.cache -mindepth 1 -print 2>/dev/null)"
        # every module of the package is byte-compiled, so nothing compiles at start-up
        for f in /opt/jdcdn/lib/python3*/site-packages/jdcdn_action/*.py; do
            n=$(basename "$f" .py)
            ls "$(dirname "$f")/__pycache__/$n".cpython-*.pyc >/dev/null
        done
        jdcdn-refresh --version
    """
    done = subprocess.run(["docker", "run", "--rm", "--network", "host", "--entrypoint", "sh",
                           image.tag, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().startswith("jdcdn-refresh ")


IMAGE_BUDGET_MB = 20


def test_image_adds_at_most_20_mb_to_its_base(image):
    """Each job that uses the action pulls (or builds) this much above the base."""
    sizes = subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", image.tag,
                            image.base], capture_output=True, text=True, timeout=60)
    if sizes.returncode != 0:
        pytest.skip(f"the base {image.base} cannot be inspected: {sizes.stderr.strip()}")
    mine, base = (int(n) for n in sizes.stdout.split())
    assert (mine - base) / 1e6 <= IMAGE_BUDGET_MB, f"{(mine - base) / 1e6:.1f} MB over the base"
