"""``git-diff`` end to end: real repositories, real clones, the fake JD server.

Each test builds its history with git, runs the command where a CI job would (in the
checkout, often a shallow one), and asserts the exact set of URLs the server received.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.gitrepo import ZEROS, Repo, git_env, gitlab_env, push_event
from tests.helpers import urls


# -- GitHub push -----------------------------------------------------------------------------
def test_push_of_several_commits_refreshes_all_of_them_from_a_depth_1_clone(
        origin, diff, fake_jd):
    author = origin.work
    before = author.commit("site", "old.html", "a.html", "b.css")
    origin.push("main")
    author.commit("one", "a.html")
    author.commit("two", "b.css")
    after = author.commit("three", "c/d.js")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")

    run = diff(checkout, event="push", payload=push_event(before, after),
               env={"GITHUB_SHA": after})

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html", "b.css", "c/d.js")
    assert f"comparing {before[:12]}..{after[:12]}: GitHub push: every commit pushed" in run.log
    assert run.json_output("urls") == sorted(urls("a.html", "b.css", "c/d.js"))


def test_first_push_of_a_branch_uses_the_merge_base_with_the_default_branch(
        origin, diff, fake_jd):
    head = origin.feature(["index.html", "main.css"], [["new/page.html"], ["main.css"]],
                          main_moves=["only-on-main.txt"]).head
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature")

    run = diff(checkout, event="push",
               payload=push_event(ZEROS, head, ref="refs/heads/feature"))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("new/page.html", "main.css")
    assert "GitHub push: before is all zeros (a new branch)" in run.log
    assert "merge-base with the default branch 'main'" in run.log


@pytest.mark.parametrize("pruned", [True, False], ids=["before-gone", "before-kept"])
def test_forced_push_falls_back_to_the_merge_base(origin, diff, fake_jd, pruned):
    author = origin.work
    author.commit("site", "a.html", "b.html")
    origin.push("main")
    author.git("checkout", "--quiet", "-b", "feature")
    before = author.commit("first try", "a.html", "wrong.html")
    origin.push("feature")
    author.git("reset", "--quiet", "--hard", "main")
    head = author.commit("second try", "b.html")
    origin.push("--force", "feature")
    if pruned:
        origin.prune()
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature")

    run = diff(checkout, event="push",
               payload=push_event(before, head, ref="refs/heads/feature", forced=True))

    assert run.code == 0, run.log
    # Not wrong.html or a.html: the rewritten branch never had them.
    assert fake_jd.refreshed() == urls("b.html")
    reason = "is gone from origin" if pruned else "is not an ancestor of the head"
    assert reason in run.log
    # Comparing less than the push is never silent: a warning annotation names the commit.
    assert f"::warning title=git-diff compared less than the push::git-diff: the push's " \
        f"before commit {before[:12]} {reason}" in run.log


def test_forced_push_to_the_default_branch_uses_the_parent_of_head(origin, diff, fake_jd):
    author = origin.work
    author.commit("one", "a.html")
    before = author.commit("two", "b.html")
    origin.push("main")
    author.git("reset", "--quiet", "--hard", "HEAD~1")
    head = author.commit("two again", "c.html")
    origin.push("--force", "main")
    origin.prune()
    checkout = origin.clone("checkout", "--depth", "1")

    run = diff(checkout, event="push", payload=push_event(before, head, forced=True))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("c.html")
    assert "comparing with the parent of the head" in run.log


def test_forced_fast_forward_is_still_before_to_after(origin, diff, fake_jd):
    author = origin.work
    before = author.commit("one", "a.html")
    origin.push("main")
    author.commit("two", "b.html")
    head = author.commit("three", "c.html")
    origin.push("--force", "main")
    checkout = origin.clone("checkout", "--depth", "1")

    run = diff(checkout, event="push", payload=push_event(before, head, forced=True))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("b.html", "c.html")


# -- GitHub pull request, merge group, other events -------------------------------------------
@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_pull_request_three_dot_diff_with_base_outside_a_depth_1_clone(
        origin, diff, fake_jd, event):
    branches = origin.feature(["a.html", "shared.css"], [["a.html"], ["img/new.png"]],
                              main_moves=["shared.css", "main-only.html"])
    base, head = branches.main, branches.head
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature")
    payload = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}

    run = diff(checkout, event=event, payload=payload)

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html", "img/new.png")
    assert "(three dots)" in run.log


def test_pull_request_whose_base_cannot_be_fetched_exits_2_with_the_fix(
        origin, diff, fake_jd):
    author = origin.work
    head = author.commit("site", "a.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")
    payload = {"pull_request": {"base": {"sha": "ab" * 20}, "head": {"sha": head}}}

    run = diff(checkout, event="pull_request", payload=payload)

    assert run.code == 2
    assert "fetch-depth: 0" in run.log and "GIT_DEPTH" in run.log and "git-base" in run.log
    assert "Traceback" not in run.log
    assert fake_jd.requests() == []


def test_pull_request_event_without_a_base_exits_2(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    head = repo.commit("site", "a.html")

    run = diff(repo, event="pull_request", payload={"pull_request": {"head": {"sha": head}}})

    assert run.code == 2
    assert "names no base commit; set git-base" in run.log
    assert fake_jd.requests() == []


def test_merge_group_is_base_to_head(origin, diff, fake_jd):
    author = origin.work
    base = author.commit("site", "a.html")
    author.commit("queued 1", "b.html")
    head = author.commit("queued 2", "c.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")
    payload = {"merge_group": {"base_sha": base, "head_sha": head}}

    run = diff(checkout, event="merge_group", payload=payload)

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("b.html", "c.html")


@pytest.mark.parametrize("event,payload", [
    ("workflow_dispatch", {}),
    ("schedule", {}),
    ("push", {"ref": "refs/tags/v1", "before": ZEROS, "after": None}),
])
def test_other_events_refresh_the_last_commit_from_a_depth_1_clone(
        origin, diff, fake_jd, event, payload):
    author = origin.work
    author.commit("one", "a.html")
    head = author.commit("two", "b.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")
    if payload:
        payload = payload | {"after": head}

    run = diff(checkout, event=event, payload=payload, env={"GITHUB_SHA": head})

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("b.html")
    assert "the last commit" in run.log


def test_root_commit_refreshes_every_file(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("first", "a.html", "css/site.css", "index.html")

    run = diff(repo, event="workflow_dispatch")

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html", "css/site.css", "index.html", "")
    assert "is a root commit" in run.log


def test_push_that_deleted_the_branch_refreshes_nothing(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    head = repo.commit("first", "a.html")

    run = diff(repo, event="push",
               payload={"before": head, "after": ZEROS, "ref": "refs/heads/gone",
                        "deleted": True})

    assert run.code == 0, run.log
    assert fake_jd.requests() == []
    assert run.json_output("urls") == []


# -- what is in the diff -----------------------------------------------------------------------
def test_renames_and_deletions(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "old.html", "gone.css", "kept.js")
    repo.git("mv", "old.html", "new.html")
    repo.remove("gone.css")
    repo.commit("rename and delete")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"})
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("old.html", "new.html", "gone.css")

    fake_jd.calls.clear()
    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1", "JDCDN_INCLUDE_DELETED": "false"})
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("new.html")
    assert "skipped (include-deleted: false)" in run.log


def test_symlinks_are_their_own_paths_never_followed(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "page.html", "other.html", "assets/app.js")
    repo.symlink("page.html", "other.html")        # a file turned into a symlink
    repo.symlink("latest", "assets")               # a new link to a folder
    repo.symlink("outside", "../../etc")           # a new link out of the repository
    repo.commit("links")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"})

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("page.html", "latest", "outside")


def test_submodule_bumps_are_ignored(tmp_path, diff, fake_jd):
    home = tmp_path / "home"
    library = Repo.init(tmp_path / "library", home)
    library.commit("v1", "lib.js")
    repo = Repo.init(tmp_path / "repo", home)
    repo.commit("site", "a.html")
    repo.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add",
             library.path.as_uri(), "vendor/lib")
    repo.commit("add the library")
    library.commit("v2", "lib.js")
    repo.git("-C", "vendor/lib", "-c", "protocol.file.allow=always", "pull", "--quiet")
    repo.commit("bump only")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"}, event="workflow_dispatch")
    assert run.code == 0, run.log
    assert fake_jd.requests() == []
    assert "nothing to refresh" in run.log.lower()
    assert run.json_output("urls") == [] and run.json_output("dirs") == []
    assert run.outputs["url-count"] == "0"

    library.commit("v3", "lib.js")
    repo.git("-C", "vendor/lib", "-c", "protocol.file.allow=always", "pull", "--quiet")
    repo.commit("bump and edit", "a.html")
    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"})
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html")


ODD_NAMES = {
    "a b.html": "a%20b.html",
    "tab\there.html": "tab%09here.html",
    'quo"te\'s.html': "quo%22te's.html",
    "back\\slash.html": "back%5Cslash.html",
    "new\nline.html": "new%0Aline.html",
    "中文/页面.html": "%E4%B8%AD%E6%96%87/%E9%A1%B5%E9%9D%A2.html",
    "-leading-dash.html": "-leading-dash.html",
    "--output=x": "--output=x",
    "100%.html": "100%25.html",
    "::error::x.html": "::error::x.html",
}


def test_odd_file_names_come_through_exactly(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "plain.html")
    for name in ODD_NAMES:
        repo.write(name)
    repo.commit("odd names")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"}, event="workflow_dispatch")

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls(*ODD_NAMES.values())
    # A name is data: it never becomes a workflow command.
    assert not any(line.startswith("::error::x") for line in run.stdout.splitlines())


def test_a_name_that_is_not_utf8_is_skipped_with_a_warning(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "plain.html")
    repo.write(b"latin1-\xe9.html")
    repo.commit("odd bytes", "ok.html")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1"})

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("ok.html")
    assert "is not UTF-8" in run.log


def test_source_dir_include_exclude_and_index_files(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "README.md")
    repo.commit("change", "README.md", "src/app.ts", "public/index.html",
                "public/docs/index.html", "public/docs/guide.html", "public/css/site.css",
                "public/drafts/wip.html", "public/robots.txt", "publicity/not-me.html")
    env = {"JDCDN_GIT_BASE": "HEAD~1", "JDCDN_SOURCE_DIR": "./public/",
           "JDCDN_INCLUDE": "**/*.html\ncss/*", "JDCDN_EXCLUDE": "drafts/"}

    run = diff(repo, env=env)

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("index.html", "", "docs/index.html", "docs/",
                                       "docs/guide.html", "css/site.css")
    assert "3 outside source-dir" in run.log and "2 left out by include/exclude" in run.log


def test_source_dir_with_nothing_changed_under_it_is_nothing_to_refresh(
        tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "public/a.html")
    repo.commit("docs only", "docs/notes.md")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1", "JDCDN_SOURCE_DIR": "public"},
               github=True)

    assert run.code == 0, run.log
    assert fake_jd.requests() == []
    assert "nothing to refresh" in run.log.lower()
    assert run.json_output("urls") == [] and run.outputs["task-ids"] == "[]"


def test_source_dir_outside_the_repository_is_refused(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "a.html")

    run = diff(repo, env={"JDCDN_GIT_BASE": "HEAD~1", "JDCDN_SOURCE_DIR": "../elsewhere"})

    assert run.code == 2
    assert "source-dir" in run.stderr and "outside the repository" in run.stderr
    assert fake_jd.requests() == []


# -- explicit range ----------------------------------------------------------------------------
def test_git_base_overrides_the_event_and_may_be_a_branch_missing_from_the_clone(
        origin, diff, fake_jd):
    head = origin.feature(["a.html", "b.html"], [["a.html"], ["b.html"]]).head
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature")

    run = diff(checkout, env={"JDCDN_GIT_BASE": "main"}, event="push",
               payload=push_event(head, head, ref="refs/heads/feature"))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html", "b.html")
    assert "git-base 'main'" in run.log


@pytest.mark.parametrize("value", ["--output=/tmp/x", "no-such-branch", "HEAD~99"])
def test_bad_git_base_exits_2_and_sends_nothing(tmp_path, diff, fake_jd, value):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "a.html")
    repo.commit("two", "b.html")

    run = diff(repo, env={"JDCDN_GIT_BASE": value})

    assert run.code == 2
    assert "git-base" in run.stderr
    assert fake_jd.requests() == []


# -- GitLab ------------------------------------------------------------------------------------
def test_gitlab_merge_request_pipeline(origin, diff, fake_jd):
    branches = origin.feature(["a.html", "shared.css"], [["a.html"], ["new.html"]],
                              main_moves=["shared.css"])
    diff_base, head = branches.fork, branches.head
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature")

    run = diff(checkout, gitlab=True, env=gitlab_env(
        CI_MERGE_REQUEST_DIFF_BASE_SHA=diff_base, CI_COMMIT_SHA=head,
        CI_COMMIT_BEFORE_SHA=ZEROS))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("a.html", "new.html")
    assert run.dotenv["JDCDN_URL_COUNT"] == "2"
    assert "GitLab merge request pipeline" in run.log


def test_gitlab_push_deeper_than_the_clone(origin, diff, fake_jd):
    author = origin.work
    before = author.commit("site", "a.html")
    origin.push("main")
    for number in range(5):
        author.commit(f"c{number}", f"page{number}.html")
    head = author.head()
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "2")

    run = diff(checkout, gitlab=True, env=gitlab_env(
        CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_SHA=head, CI_COMMIT_BRANCH="main"))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls(*(f"page{n}.html" for n in range(5)))
    assert "GitLab pipeline: every commit pushed" in run.log


@pytest.mark.parametrize("where", [{"CI_COMMIT_BRANCH": "main"}, {"CI_COMMIT_TAG": "v1"}],
                         ids=["schedule-on-main", "tag"])
def test_gitlab_pipeline_without_before_on_the_default_branch_or_a_tag(
        origin, diff, fake_jd, where):
    author = origin.work
    author.commit("site", "a.html")
    head = author.commit("last", "b.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")

    run = diff(checkout, gitlab=True, env=gitlab_env(
        CI_COMMIT_BEFORE_SHA=ZEROS, CI_COMMIT_SHA=head, **where))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("b.html")


def test_gitlab_variable_that_is_not_a_commit_exits_2(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "a.html")

    run = diff(repo, gitlab=True, env={"CI_COMMIT_SHA": "HEAD; rm -rf /"})

    assert run.code == 2
    assert "CI_COMMIT_SHA" in run.stderr
    assert fake_jd.requests() == []


# -- the machine -------------------------------------------------------------------------------
def test_no_git_on_path_exits_2(tmp_path, diff, fake_jd):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "a.html")
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    run = diff(repo, env={"PATH": str(empty)})

    assert run.code == 2
    assert "git is not installed" in run.stderr
    assert fake_jd.requests() == []


def test_not_a_repository_exits_2(tmp_path, diff, fake_jd):
    folder = Repo(tmp_path / "plain", tmp_path / "home")
    folder.path.mkdir()

    run = diff(folder)

    assert run.code == 2
    assert "is not inside a git repository" in run.stderr
    assert fake_jd.requests() == []


def chown_tree(path: Path, uid: int) -> None:
    for item in [path, *path.rglob("*")]:
        os.lchown(item, uid, uid)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="chown to another uid needs root")
def test_workspace_owned_by_another_uid(origin, diff, fake_jd, tmp_path):
    author = origin.work
    before = author.commit("site", "a.html")
    origin.push("main")
    head = author.commit("two", "b.html")
    origin.push("main")
    checkout = origin.clone("checkout", "--depth", "1")
    chown_tree(checkout.path, 4242)
    # Without the fix git refuses this repository outright.
    refused = subprocess.run(["git", "status"], cwd=checkout.path,
                             env=git_env(tmp_path / "clean-home"), capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 128 and "dubious ownership" in refused.stderr
    config_before = (checkout.path / ".git" / "config").read_bytes()

    run = diff(checkout, event="push", payload=push_event(before, head),
               subprocess_run=True)

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("b.html")
    # Nothing was written to any config to get there: not the repository's, not a home's.
    assert (checkout.path / ".git" / "config").read_bytes() == config_before
    assert list(tmp_path.rglob(".gitconfig")) == []
