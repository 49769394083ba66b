"""``git-diff`` never narrows the range silently when origin cannot be asked.

A shallow clone must fetch the push's before commit. When that fetch fails because origin
is unreachable, broken or refuses, nothing tells us the commit is gone: comparing with the
parent of the head would refresh only the last commit's files and exit 0. So that is exit
2 naming the missing commit, and nothing is sent. Only when origin answers that it has no
such commit (a forced push, pruned) does the run compare less, with a warning annotation.
"""

from __future__ import annotations

import shutil

import pytest

from tests.gitrepo import Origin, Repo, gitlab_env, push_event
from tests.helpers import unused_port, urls


def break_origin(origin: Origin, checkout: Repo, how: str) -> None:
    if how == "moved":
        shutil.move(origin.bare, origin.bare.with_name("moved.git"))
    elif how == "broken":  # git can no longer read it as a repository (root ignores modes)
        (origin.bare / "HEAD").write_text("garbage\n")
        shutil.rmtree(origin.bare / "refs")
    elif how == "refused":
        checkout.git("remote", "set-url", "origin",
                     f"http://127.0.0.1:{unused_port()}/site.git")


def four_commit_push(origin: Origin) -> tuple[str, str]:
    author = origin.work
    before = author.commit("site", "old.html")
    origin.push("main")
    for number in range(4):
        author.commit(f"c{number}", f"page{number}.html")
    origin.push("main")
    return before, author.head()


FOUR = urls(*(f"page{n}.html" for n in range(4)))


@pytest.mark.parametrize("how", ["moved", "broken", "refused"])
@pytest.mark.parametrize("depth", ["1", "2"])
def test_github_push_with_origin_unreachable_exits_2_naming_the_before_commit(
        origin, diff, fake_jd, depth, how):
    before, head = four_commit_push(origin)
    checkout = origin.clone("checkout", "--depth", depth)
    break_origin(origin, checkout, how)

    run = diff(checkout, event="push", payload=push_event(before, head))

    assert run.code == 2, run.log
    assert fake_jd.requests() == []
    errors = [line for line in run.log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, run.log
    assert f"before commit {before[:12]} is not in this clone" in errors[0]
    assert "fetching from origin failed" in errors[0]
    assert "fetch-depth: 0" in errors[0] and "git-base" in errors[0]
    assert "parent" not in errors[0]


@pytest.mark.parametrize("how", ["moved", "broken", "refused"])
def test_full_clone_needs_no_fetch_so_an_unreachable_origin_is_harmless(
        origin, diff, fake_jd, how):
    before, head = four_commit_push(origin)
    checkout = origin.clone("checkout")
    break_origin(origin, checkout, how)

    run = diff(checkout, event="push", payload=push_event(before, head))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == FOUR


@pytest.mark.parametrize("how", ["moved", "refused"])
def test_gitlab_push_with_origin_unreachable_exits_2(origin, diff, fake_jd, how):
    before, head = four_commit_push(origin)
    checkout = origin.clone("checkout", "--depth", "2")
    break_origin(origin, checkout, how)

    run = diff(checkout, gitlab=True, env=gitlab_env(
        CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_SHA=head, CI_COMMIT_BRANCH="main"))

    assert run.code == 2, run.log
    assert fake_jd.requests() == []
    assert f"GitLab pipeline's before commit {before[:12]} is not in this clone" in run.log
    assert "GIT_DEPTH" in run.log


def test_first_push_of_a_branch_with_origin_unreachable_exits_2(origin, diff, fake_jd):
    """A new branch compares with the default branch; not fetching it is no reason to
    compare with the parent alone."""
    head = origin.feature(["index.html"], [["a.html"], ["b.html"], ["c.html"]]).head
    checkout = origin.clone("checkout", "--depth", "1", "--branch", "feature",
                            "--single-branch")
    break_origin(origin, checkout, "moved")

    run = diff(checkout, event="push",
               payload=push_event("0" * 40, head, ref="refs/heads/feature"))

    assert run.code == 2, run.log
    assert fake_jd.requests() == []
    assert "the branch 'main' is not in this clone" in run.log


def forced_push_with_old_commit_pruned(origin: Origin) -> tuple[str, str]:
    """main: site, then a push of c1..c3 that is later rewritten to c1' (pruned away)."""
    author = origin.work
    author.commit("site", "a.html")
    author.commit("base", "b.html")
    origin.push("main")
    base = author.head()
    author.commit("c1", "x.html")
    before = author.commit("c2", "y.html")
    origin.push("main")
    author.git("reset", "--quiet", "--hard", base)
    author.commit("rewritten", "z.html")
    head = author.commit("rewritten more", "w.html")
    origin.push("--force", "main")
    origin.prune()
    return before, head


@pytest.mark.parametrize("depth", ["1", "2", "full"])
def test_github_forced_push_whose_before_is_gone_warns_and_compares_the_parent(
        origin, diff, fake_jd, depth):
    before, head = forced_push_with_old_commit_pruned(origin)
    checkout = origin.clone("checkout", *(() if depth == "full" else ("--depth", depth)))

    run = diff(checkout, event="push", payload=push_event(before, head, forced=True))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("w.html")  # the parent of the head: all that is left
    warnings = [line for line in run.log.splitlines() if line.startswith("::warning")]
    assert any(f"before commit {before[:12]} is gone from origin" in line
               and "refresh it whole once" in line for line in warnings), run.log


def test_gitlab_forced_push_whose_before_is_gone_warns(origin, diff, fake_jd):
    before, head = forced_push_with_old_commit_pruned(origin)
    checkout = origin.clone("checkout", "--depth", "2")

    run = diff(checkout, gitlab=True, env=gitlab_env(
        CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_SHA=head, CI_COMMIT_BRANCH="main"))

    assert run.code == 0, run.log
    assert fake_jd.refreshed() == urls("w.html")
    assert f"before commit {before[:12]} is gone from origin" in run.log
    assert any(line.startswith("warning: git-diff: the push's before commit")
               for line in run.log.splitlines()), run.log


def test_deepening_that_fails_is_an_error_not_a_smaller_range(origin, diff, fake_jd):
    """The before commit can be fetched alone, but the history between it and the head
    cannot: the push must not be cut to the parent of the head."""
    before, head = four_commit_push(origin)
    checkout = origin.clone("checkout", "--depth", "1")
    checkout.git("fetch", "--quiet", "--depth=1", "origin", before)
    break_origin(origin, checkout, "moved")

    run = diff(checkout, event="push", payload=push_event(before, head, forced=None))

    assert run.code == 2, run.log
    assert fake_jd.requests() == []
    assert "history is cut short and fetching from origin failed" in run.log
