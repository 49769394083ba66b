"""The pure parts of ``git-diff``: parsing git's listing, globs, source-dir, triggers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from jdcdn_action.changes import (
    Change,
    changed_entries,
    compile_globs,
    parse_raw,
    select,
    source_prefix,
)
from jdcdn_action.console import Console
from jdcdn_action.exceptions import GitError, InputError
from jdcdn_action.git import find_worktree
from jdcdn_action.trigger import commit_id, read_trigger
from tests.gitrepo import Repo, git_env

ZERO = "0" * 40
ONE = "1" * 40


def record(old_mode: str, new_mode: str, status: str, path: bytes) -> bytes:
    return f":{old_mode} {new_mode} {ONE} {ONE} {status}".encode() + b"\0" + path + b"\0"


# -- parse_raw ---------------------------------------------------------------------------------
def test_parse_raw_modes_decide_what_counts():
    data = b"".join([
        record("000000", "100644", "A", b"added.html"),
        record("100644", "100644", "M", b"changed.css"),
        record("100644", "000000", "D", b"deleted.js"),
        record("100644", "120000", "T", b"now-a-link"),
        record("120000", "000000", "D", b"old-link"),
        record("160000", "160000", "M", b"vendor/lib"),
        record("000000", "160000", "A", b"vendor/new"),
        record("100644", "160000", "T", b"file-became-submodule"),
        record("160000", "100755", "T", b"submodule-became-file"),
    ])
    listing = parse_raw(data)
    assert listing.changes == [
        Change("added.html", False), Change("changed.css", False),
        Change("deleted.js", True), Change("now-a-link", False), Change("old-link", True),
        Change("file-became-submodule", True), Change("submodule-became-file", False),
    ]
    assert listing.submodules == 2


def test_parse_raw_keeps_every_byte_of_a_name():
    names = ["a b\tc\nd.html", '"q\\b".html', "中文.html", "-x", " lead and trail "]
    data = b"".join(record("000000", "100644", "A", n.encode()) for n in names)
    assert [c.path for c in parse_raw(data).changes] == names


def test_parse_raw_sets_aside_names_that_are_not_utf8():
    listing = parse_raw(record("000000", "100644", "A", b"caf\xe9.html")
                        + record("000000", "100644", "A", b"ok.html"))
    assert [c.path for c in listing.changes] == ["ok.html"]
    assert listing.undecodable == (b"caf\xe9.html",)


def test_parse_raw_empty_and_malformed():
    assert parse_raw(b"").changes == []
    with pytest.raises(GitError):
        parse_raw(b"garbage\0")
    with pytest.raises(GitError):
        parse_raw(b":100644 100644 x y\0path\0")


# -- globs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern,path,matches", [
    ("*.html", "a.html", True),
    ("*.html", "docs/a.html", False),          # '*' stays within a folder
    ("**/*.html", "docs/deep/a.html", True),
    ("**/*.html", "a.html", True),             # '**/' may match no folder at all
    ("**.html", "docs/a.html", True),          # '**' crosses folders anywhere
    ("docs/**", "docs/a/b.css", True),
    ("docs/**", "docsx/a.css", False),
    ("docs/", "docs/a/b.css", True),           # a trailing '/' means everything inside
    ("/index.html", "index.html", True),
    ("./index.html", "index.html", True),
    ("?.js", "a.js", True),
    ("?.js", "ab.js", False),
    ("a?b", "a/b", False),
    ("[ab].txt", "b.txt", True),
    ("[!ab].txt", "c.txt", True),
    ("[!ab].txt", "a.txt", False),
    ("a[!x]b", "a/b", False),                  # a class never matches '/'
    ("[a-c].txt", "b.txt", True),
    ("[a-c].txt", "-.txt", False),
    ("[]].txt", "].txt", True),
    ("[abc", "[abc", True),                    # an unclosed '[' is a plain character
    ("a+b(1).css", "a+b(1).css", True),        # regex characters are literal
    ("a.css", "abcss", False),
    ("img/*", "img/a/b.png", False),
    ("*", "a\nb", True),                       # names with newlines still match
])
def test_glob(pattern, path, matches):
    compiled = compile_globs([pattern])
    assert compiled is not None
    assert bool(compiled.match(path)) is matches


def test_no_patterns_compile_to_none():
    assert compile_globs([]) is None
    assert compile_globs(["  "]) is None


# -- select ------------------------------------------------------------------------------------
CHANGES = [
    Change("public/a.html", False), Change("public/docs/b.html", False),
    Change("public/old.css", True), Change("publicity/x.html", False),
    Change("src/app.ts", False), Change("public/drafts/d.html", False),
]


def test_select_source_dir_relative_paths_and_counts():
    chosen = select(CHANGES, "public/")
    assert chosen.paths == ["a.html", "docs/b.html", "old.css", "drafts/d.html"]
    assert (chosen.outside, chosen.deleted_kept) == (2, 1)


def test_select_include_exclude_and_deleted():
    chosen = select(CHANGES, "public/", include=["**/*.html", "*.css"],
                    exclude=["drafts/**"], include_deleted=False)
    assert chosen.paths == ["a.html", "docs/b.html"]
    assert (chosen.filtered, chosen.deleted_dropped) == (1, 1)


def test_select_whole_repository():
    assert len(select(CHANGES, "").paths) == len(CHANGES)


def test_select_keeps_whether_git_saw_each_file_deleted():
    chosen = select(CHANGES, "public/")
    assert [c for c in chosen.kept if c.deleted] == [Change("old.css", True)]


# -- changed_entries ---------------------------------------------------------------------------
def test_changed_entries_mark_the_files_git_saw_deleted(tmp_path):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    repo.commit("site", "public/old.html", "public/gone.css", "public/kept.js", "README")
    repo.git("mv", "public/old.html", "public/new.html")
    repo.remove("public/gone.css")
    repo.remove("README")
    repo.commit("rename and delete", "public/kept.js")
    log = io.StringIO()

    entries = changed_entries(Console(out=log, err=log), git_env(repo.home),
                              source_dir="public", git_base="HEAD~1", cwd=str(repo.path))
    assert {e.text: e.deleted for e in entries} == {
        "old.html": True, "gone.css": True, "new.html": False, "kept.js": False}
    assert all(e.repository_path and e.kind == "file" for e in entries)

    kept = changed_entries(Console(out=log, err=log), git_env(repo.home), source_dir="public",
                           git_base="HEAD~1", include_deleted=False, cwd=str(repo.path))
    assert {e.text: e.deleted for e in kept} == {"new.html": False, "kept.js": False}


# -- source-dir --------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    (".", ""), ("", ""), ("./", ""), ("public", "public/"), ("./public/", "public/"),
    ("public//site/.", "public/site/"), ("a/../public", "public/"),
])
def test_source_prefix_normalised(tmp_path, value, expected):
    root = str(tmp_path)
    assert source_prefix(value, root, root) == expected


def test_source_prefix_relative_to_the_working_directory_and_absolute(tmp_path):
    root = tmp_path / "repo"
    (root / "site" / "public").mkdir(parents=True)
    assert source_prefix("public", str(root), str(root / "site")) == "site/public/"
    assert source_prefix(str(root / "site" / "public"), str(root), str(root)) == "site/public/"
    assert source_prefix("..", str(root), str(root / "site")) == ""


@pytest.mark.parametrize("value", ["..", "../other", "public/../../x", "/etc"])
def test_source_prefix_outside_the_repository_is_refused(tmp_path, value):
    root = tmp_path / "repo"
    root.mkdir()
    with pytest.raises(InputError, match="source-dir"):
        source_prefix(value, str(root), str(root))


def test_find_worktree_walks_up_to_the_dot_git(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    assert find_worktree(str(tmp_path / "repo" / "a" / "b")) == str(tmp_path / "repo")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_text("gitdir: ../repo/.git\n")  # a worktree's file
    assert find_worktree(str(tmp_path / "sub")) == str(tmp_path / "sub")


# -- triggers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    (ONE, ONE), ("A" * 40, "a" * 40), ("b" * 64, "b" * 64), ("", ""), (None, ""),
])
def test_commit_id_accepts_full_hex_ids(value, expected):
    assert commit_id(value, "x") == expected


@pytest.mark.parametrize("value", ["abc123", "HEAD", "-" + "1" * 39, "1" * 41, 42,
                                   "g" * 40, "1" * 40 + "\n--x"])
def test_commit_id_refuses_anything_else(value):
    with pytest.raises(InputError, match="not a commit ID"):
        commit_id(value, "where")


def write_event(tmp_path: Path, payload: dict) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_github_push_trigger(tmp_path):
    path = write_event(tmp_path, {"before": ZERO, "after": ONE, "ref": "refs/heads/dev",
                                  "forced": True, "repository": {"default_branch": "main"}})
    trigger = read_trigger({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": path})
    assert (trigger.kind, trigger.base, trigger.head, trigger.forced, trigger.branch,
            trigger.default_branch, trigger.tag) == ("push", ZERO, ONE, True, "dev", "main",
                                                     False)


def test_github_tag_push_and_pull_request_triggers(tmp_path):
    path = write_event(tmp_path, {"before": ZERO, "after": ONE, "ref": "refs/tags/v1"})
    assert read_trigger({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": path}).tag
    path = write_event(tmp_path, {"pull_request": {"base": {"sha": ONE},
                                                   "head": {"sha": "2" * 40}}})
    trigger = read_trigger({"GITHUB_EVENT_NAME": "pull_request_target",
                            "GITHUB_EVENT_PATH": path})
    assert (trigger.kind, trigger.base, trigger.head) == ("pull_request", ONE, "2" * 40)


def test_github_event_file_problems(tmp_path):
    with pytest.raises(InputError, match="GITHUB_EVENT_PATH"):
        read_trigger({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(tmp_path / "no")})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        read_trigger({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(bad)})
    path = write_event(tmp_path, {"pull_request": {"base": {"sha": "main"}}})
    with pytest.raises(InputError, match=r"pull_request\.base\.sha"):
        read_trigger({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": path})


def test_gitlab_triggers():
    push = read_trigger({"GITLAB_CI": "true", "CI_COMMIT_SHA": ONE,
                         "CI_COMMIT_BEFORE_SHA": ZERO, "CI_COMMIT_BRANCH": "dev",
                         "CI_DEFAULT_BRANCH": "main"})
    assert (push.kind, push.base, push.head, push.branch, push.default_branch) == (
        "push", ZERO, ONE, "dev", "main")
    merge = read_trigger({"GITLAB_CI": "true", "CI_COMMIT_SHA": ONE,
                          "CI_MERGE_REQUEST_DIFF_BASE_SHA": "3" * 40})
    assert (merge.kind, merge.base) == ("merge_request", "3" * 40)
    assert read_trigger({}).kind == "local"
