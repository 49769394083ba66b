"""The git range for ``git-diff``: which two commits the triggering event compares.

Hand-written steps get this wrong in three ways: ``git diff HEAD~1`` misses all but the
last commit of a push, a shallow clone has no base, and a forced push has a base that is
not an ancestor. So the range comes from the event itself, missing commits are fetched in
a bounded number of steps, and the log says which range was used and why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from jdcdn_action.console import Console
from jdcdn_action.entries import show
from jdcdn_action.exceptions import GitError, InputError
from jdcdn_action.settings import Settings

SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
# Branch names we are willing to put on a fetch command line: no refspec syntax (`:`,
# `+`, `^`, `~`), no option look-alikes, no `..`.
BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/\-]+\Z")
# How far a shallow clone is deepened, step by step, to find a merge-base or an
# ancestor: at most 1 + 50 + 500 + 5000 commits back, then we stop and say how to fix it.
DEEPEN_STEPS = (50, 500, 5000)
GIT_TIMEOUT = 120.0
FETCH_TIMEOUT = 600.0
# What git says when origin was reached and has no such commit or ref (file://, ssh and
# https origins alike, protocol v0 and v2).
GONE_MARKERS = ("not our ref", "couldn't find remote ref", "no such remote ref",
                "unadvertised object")
FIX = ("fetch more history (actions/checkout: fetch-depth: 0; GitLab CI: a larger GIT_DEPTH, "
       "or 0 for all of it) or set git-base")

T = TypeVar("T")


@dataclass(frozen=True)
class GitRange:
    """Compare ``base`` with ``head`` (both full commit IDs). ``base`` None: ``head`` is
    a root commit, so every file in it counts as added."""

    base: str | None
    head: str
    reason: str
    warning: str = ""  # set when the range is smaller than the event's own


@dataclass(frozen=True)
class Trigger:
    """What the CI says happened. Commit IDs are validated hex; zeros mean "none"."""

    kind: str  # push, pull_request, merge_group, merge_request, other, local
    label: str
    base: str = ""
    head: str = ""
    forced: bool | None = None
    branch: str = ""
    default_branch: str = ""
    tag: bool = False
    deleted: bool = False
    zero_means: str = "a new branch"


class Git:
    """Runs git in one repository: fixed argv, no shell, bounded time, C locale.

    The workspace often belongs to another uid than the one running git (root in a
    container, the runner's user on the host), and git >= 2.35.2 then refuses it as
    "dubious ownership". git honours ``safe.directory`` from the command line, so each
    call trusts this one repository with ``-c``; the user's own config is never written.
    """

    def __init__(self, root: str, executable: str, env: Mapping[str, str]) -> None:
        self.root = root
        self.executable = executable
        self.env = dict(env) | {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        self.prefix = [executable, "-c", f"safe.directory={root}", "-c",
                       "core.quotepath=off"]

    @classmethod
    def open(cls, env: Mapping[str, str], cwd: str | None = None) -> Git:
        executable = shutil.which("git", path=env.get("PATH") or os.defpath)
        if not executable:
            raise GitError("git-diff: git is not installed or not on PATH; install git, "
                           "or set git-diff: false and list the paths instead.")
        start = os.path.realpath(cwd or os.getcwd())
        root = find_worktree(start)
        if root is None:
            raise GitError(f"git-diff: {show(start)} is not inside a git repository; run in "
                           "the checkout (actions/checkout before this step) or set "
                           "git-diff: false.")
        git = cls(root, executable, env)
        check = git.run("rev-parse", "--is-inside-work-tree", check=False)
        if check.returncode != 0 or check.stdout.strip() != b"true":
            raise GitError(f"git-diff: git cannot read the repository at {show(root)}: "
                           f"{first_line(check.stderr)}")
        return git

    # -- running -------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True, timeout: float = GIT_TIMEOUT,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [*self.prefix, *args]
        try:
            done = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True,
                                  timeout=timeout, input=stdin,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GitError(f"git-diff: 'git {args[0]}' took longer than {timeout:g} s; "
                           "check the network to origin, or set git-base.") from None
        except OSError as error:
            raise GitError(f"git-diff: git could not be run ({error.strerror}).") from None
        if check and done.returncode != 0:
            raise GitError(f"git-diff: 'git {args[0]}' failed: {first_line(done.stderr)}")
        return done

    def text(self, *args: str) -> str:
        return self.run(*args).stdout.decode("utf-8", "replace").strip()

    # -- questions -----------------------------------------------------------------------
    def shallow(self) -> bool:
        return self.text("rev-parse", "--is-shallow-repository") == "true"

    def has_commit(self, sha: str) -> bool:
        return self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def resolve(self, rev: str) -> str | None:
        """A commit-ish the user wrote, as a full commit ID, or None if not here."""
        done = self.run("rev-parse", "--verify", "--quiet", "--end-of-options",
                        f"{rev}^{{commit}}", check=False)
        sha = done.stdout.decode("ascii", "replace").strip()
        return sha if done.returncode == 0 and SHA_RE.match(sha) else None

    def parents(self, sha: str) -> list[str]:
        """The parents recorded in the commit itself: a shallow boundary hides them from
        rev-parse, which would make every clipped commit look like a root commit."""
        raw = self.run("cat-file", "commit", sha).stdout
        header = raw.split(b"\n\n", 1)[0]
        return [line[7:].decode("ascii") for line in header.split(b"\n")
                if line.startswith(b"parent ")]

    def is_ancestor(self, ancestor: str, sha: str) -> bool:
        done = self.run("merge-base", "--is-ancestor", ancestor, sha, check=False)
        if done.returncode not in (0, 1):
            raise GitError(f"git-diff: 'git merge-base' failed: {first_line(done.stderr)}")
        return done.returncode == 0

    def merge_base(self, one: str, two: str) -> str | None:
        done = self.run("merge-base", one, two, check=False)
        if done.returncode not in (0, 1):
            raise GitError(f"git-diff: 'git merge-base' failed: {first_line(done.stderr)}")
        sha = done.stdout.decode("ascii", "replace").strip()
        return sha if done.returncode == 0 and SHA_RE.match(sha) else None

    def complete(self, *tips: str) -> bool:
        """True when no shallow boundary hides any history of ``tips``: a question about
        their history then has its final answer. (A shallow clone may stay shallow
        elsewhere, e.g. at a fetched commit no branch reaches.)"""
        shallow_file = os.path.join(self.root, self.text("rev-parse", "--git-path", "shallow"))
        try:
            with open(shallow_file, "rb") as handle:
                boundary = set(handle.read().split())
        except FileNotFoundError:
            return True
        if not boundary:
            return True
        reachable = self.run("rev-list", *tips, "--").stdout.split()
        return boundary.isdisjoint(reachable)

    def empty_tree(self) -> str:
        """The empty tree's ID in this repository's hash (not written to the repository)."""
        return self.run("hash-object", "-t", "tree", "--stdin", stdin=b"").stdout.decode(
            "ascii").strip()

    def origin_head(self) -> str:
        """The remote default branch as the clone recorded it (``origin/HEAD``), if any."""
        done = self.run("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
        ref = done.stdout.decode("utf-8", "replace").strip()
        prefix = "refs/remotes/origin/"
        return ref[len(prefix):] if done.returncode == 0 and ref.startswith(prefix) else ""

    # -- fetching ------------------------------------------------------------------------
    def fetch(self, *wants: str, depth: int | None = None, deepen: int | None = None,
              write_fetch_head: bool = False) -> Fetched:
        """Fetch from origin and say how it went: fetched, gone (origin answered that it
        has no such commit or ref), or failed (origin could not be asked at all)."""
        args = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-auto-gc"]
        if not write_fetch_head:
            args.append("--no-write-fetch-head")
        if depth is not None:
            args.append(f"--depth={depth}")
        if deepen is not None:
            args.append(f"--deepen={deepen}")
        done = self.run(*args, "origin", *wants, check=False, timeout=FETCH_TIMEOUT)
        if done.returncode == 0:
            return Fetched("fetched")
        text = done.stderr.decode("utf-8", "replace")
        # Only these answers come from an origin that was reached and looked: anything
        # else (unreachable, refused, no credentials) says nothing about the commit.
        gone = any(marker in text.lower() for marker in GONE_MARKERS)
        return Fetched("gone" if gone else "failed", first_line(done.stderr))

    def have(self, sha: str, what: str) -> bool:
        """Make sure a commit is here, fetching it alone if needed. False only when origin
        answered that it does not have it; a fetch that failed otherwise is an error,
        since guessing "gone" would narrow the range silently.

        A shallow clone gets just that commit (``--depth=1``, enough to diff its tree);
        a full clone gets its whole history, so the clone does not turn shallow.
        """
        if self.has_commit(sha):
            return True
        fetched = self.fetch(sha, depth=1 if self.shallow() else None)
        if fetched.outcome == "failed":
            raise unreachable(f"{what} {short(sha)} is not in this clone", fetched)
        return self.has_commit(sha)

    def fetch_branch(self, branch: str) -> str | None:
        """The tip of ``origin``'s branch: the remote-tracking ref if the clone has one,
        else fetched. None when origin has no such branch."""
        if not BRANCH_RE.match(branch):
            return None
        local = self.resolve(f"refs/remotes/origin/{branch}")
        if local:
            return local
        depth = 1 if self.shallow() else None
        fetched = self.fetch(f"refs/heads/{branch}", depth=depth, write_fetch_head=True)
        if fetched.outcome == "failed":
            raise unreachable(f"the branch {show(branch)} is not in this clone", fetched)
        return self.resolve("FETCH_HEAD") if fetched.outcome == "fetched" else None

    def deepening(self, question: Callable[[], T | None], *tips: str) -> T | None:
        """Ask ``question`` until it has an answer, deepening the history of ``tips`` by
        DEEPEN_STEPS while it is clipped. None: no answer in the whole history (see
        ``complete``) or within the deepest step; a deepening fetch that fails is an error."""
        answer = question()
        for step in DEEPEN_STEPS:
            if answer is not None or self.complete(*tips):
                break
            fetched = self.fetch(*tips, deepen=step)
            if fetched.outcome != "fetched":
                raise unreachable("this clone's history is cut short", fetched)
            answer = question()
        return answer


@dataclass(frozen=True)
class Fetched:
    outcome: Literal["fetched", "gone", "failed"]
    message: str = ""


def unreachable(what: str, fetched: Fetched) -> GitError:
    """The error for a fetch that origin could not answer: never a reason to compare less."""
    return GitError(f"git-diff: {what} and fetching from origin failed ({fetched.message}); "
                    f"{FIX}.")


def find_worktree(start: str) -> str | None:
    """The top of the work tree that holds ``start``, found without running git (which
    might refuse the folder before we could tell it that the folder is trusted)."""
    path = start
    while True:
        if os.path.lexists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def first_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    text = next((line for line in lines if line), "no message")
    return text[:300]


def short(sha: str) -> str:
    return sha[:12]


# -- what the CI says happened -------------------------------------------------------------
def commit_id(value: object, where: str) -> str:
    """A commit ID from an event or a CI variable: 40 or 64 hex digits, or ""."""
    if value is None or value == "":
        return ""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not SHA_RE.match(text):
        raise InputError(f"git-diff: {where} is {show(str(value))}, not a commit ID; check "
                         "the event, or set git-base and git-head.")
    return text


def is_zero(sha: str) -> bool:
    return not sha or set(sha) == {"0"}


def read_trigger(env: Mapping[str, str]) -> Trigger:
    if env.get("GITHUB_EVENT_NAME"):
        return github_trigger(env)
    if env.get("GITLAB_CI", "").lower() == "true":
        return gitlab_trigger(env)
    return Trigger("local", "no CI event")


def _event_payload(env: Mapping[str, str]) -> dict:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        why = error.strerror if isinstance(error, OSError) else "not JSON"
        raise InputError(f"git-diff: the event file GITHUB_EVENT_PATH={show(path)} cannot "
                         f"be read ({why}); set git-base and git-head instead.") from None
    return data if isinstance(data, dict) else {}


def _get(data: object, *keys: str) -> object:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def github_trigger(env: Mapping[str, str]) -> Trigger:
    name = env.get("GITHUB_EVENT_NAME", "")
    event = _event_payload(env)
    where = "GITHUB_EVENT_PATH"
    default = _get(event, "repository", "default_branch")
    default = default if isinstance(default, str) else ""
    if name == "push":
        ref = str(event.get("ref") or env.get("GITHUB_REF", ""))
        head = commit_id(event.get("after"), f"{where} after") or commit_id(
            env.get("GITHUB_SHA"), "GITHUB_SHA")
        forced = event.get("forced")
        return Trigger(
            "push", "GitHub push",
            base=commit_id(event.get("before"), f"{where} before"),
            head=head,
            forced=forced if isinstance(forced, bool) else None,
            branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "",
            default_branch=default,
            tag=ref.startswith("refs/tags/"),
            deleted=bool(event.get("deleted")) or (bool(head) and is_zero(head)),
        )
    if name in ("pull_request", "pull_request_target"):
        return Trigger(
            "pull_request", f"GitHub {name}",
            base=commit_id(_get(event, "pull_request", "base", "sha"),
                           f"{where} pull_request.base.sha"),
            head=commit_id(_get(event, "pull_request", "head", "sha"),
                           f"{where} pull_request.head.sha"),
            default_branch=default,
        )
    if name == "merge_group":
        return Trigger(
            "merge_group", "GitHub merge_group",
            base=commit_id(_get(event, "merge_group", "base_sha"),
                           f"{where} merge_group.base_sha"),
            head=commit_id(_get(event, "merge_group", "head_sha"),
                           f"{where} merge_group.head_sha"),
            default_branch=default,
        )
    return Trigger("other", f"GitHub {name} event", default_branch=default)


def gitlab_trigger(env: Mapping[str, str]) -> Trigger:
    head = commit_id(env.get("CI_COMMIT_SHA"), "CI_COMMIT_SHA")
    diff_base = commit_id(env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
                          "CI_MERGE_REQUEST_DIFF_BASE_SHA")
    default = env.get("CI_DEFAULT_BRANCH", "")
    if diff_base:
        return Trigger("merge_request", "GitLab merge request pipeline", base=diff_base,
                       head=head, default_branch=default)
    tag = bool(env.get("CI_COMMIT_TAG"))
    return Trigger(
        "push", "GitLab pipeline",
        base=commit_id(env.get("CI_COMMIT_BEFORE_SHA"), "CI_COMMIT_BEFORE_SHA"),
        head=head,
        branch=env.get("CI_COMMIT_BRANCH", ""),
        default_branch=default,
        tag=tag,
        zero_means="a new branch, or a pipeline that no push started",
    )


# -- from trigger to range -----------------------------------------------------------------
class RangeFinder:
    """Turns the trigger (or git-base/git-head) into a GitRange, fetching what is missing."""

    def __init__(self, git: Git, trigger: Trigger) -> None:
        self.git = git
        self.trigger = trigger

    def find(self, git_base: str = "", git_head: str = "") -> GitRange | None:
        """The range to compare; None when there is nothing to compare (a deleted branch)."""
        trigger = self.trigger
        if git_head:
            head = self.user_commit(git_head, "git-head")
        elif trigger.deleted:
            return None
        elif trigger.head:
            head = self.need(trigger.head, f"the head commit of the {trigger.label}")
        else:
            head = self.git.resolve("HEAD") or ""
            if not head:
                raise GitError("git-diff: no commit is checked out (HEAD); check out the "
                               "commit to refresh, or set git-head.")
        if git_base:
            base = self.user_commit(git_base, "git-base")
            return GitRange(base, head, f"git-base {show(git_base)} to "
                            f"{show(git_head or 'the event head')}")
        if trigger.kind == "push":
            return self.after_push(head)
        if trigger.kind == "pull_request":
            return self.pull_request(head)
        if trigger.kind in ("merge_group", "merge_request"):
            return GitRange(self.event_base(), head, f"{trigger.label}: its base to its head")
        return self.parent_range(head, f"{trigger.label}: the last commit (HEAD^..HEAD)")

    def after_push(self, head: str) -> GitRange:
        trigger, git = self.trigger, self.git
        label = trigger.label
        if trigger.tag:
            return self.parent_range(head, f"{label} of a tag: the last commit")
        before = trigger.base
        if not before:
            return self.fallback(head, f"{label}: no before commit")
        if is_zero(before):
            return self.fallback(head, f"{label}: before is all zeros ({trigger.zero_means})")
        if not git.have(before, f"the {label}'s before commit"):
            return self.lost_before(head, before, "is gone from origin (a forced push, or "
                                    "a deleted branch)")
        if trigger.forced is False:
            return GitRange(before, head, f"{label}: every commit pushed (before..after)")
        if git.deepening(lambda: True if git.is_ancestor(before, head) else None, head):
            return GitRange(before, head, f"{label}: every commit pushed (before..after)")
        if git.complete(head):
            return self.lost_before(head, before, "is not an ancestor of the head (a forced "
                                    "push)")
        if trigger.forced:
            return self.lost_before(head, before, "was overwritten by a forced push")
        raise GitError(f"git-diff: the {label}'s before commit {short(before)} is not in the "
                       f"head's history as far as it could be fetched; {FIX}.")

    def lost_before(self, head: str, before: str, why: str) -> GitRange:
        """The push's own range cannot be had: compare less, and say so as a warning."""
        found = self.fallback(head, f"{self.trigger.label}: before {short(before)} {why}")
        warning = (f"git-diff: the push's before commit {short(before)} {why}, so only "
                   f"{short(found.base) if found.base else 'nothing'}..{short(found.head)} "
                   "was compared: files changed only in the overwritten commits are not "
                   "refreshed. If the site may be stale, refresh it whole once (e.g. "
                   "paths: / with dry-run first).")
        return replace(found, warning=warning)

    def pull_request(self, head: str) -> GitRange:
        trigger, git = self.trigger, self.git
        base = self.event_base()
        found = git.deepening(lambda: git.merge_base(base, head), base, head)
        if found is None:
            unrelated = git.complete(base, head)
            raise GitError(
                f"git-diff: the {trigger.label}'s base {short(base)} and head {short(head)} "
                + ("have no common history; set git-base." if unrelated else
                   f"have no merge-base in the history that could be fetched; {FIX}.")
            )
        return GitRange(found, head, f"{trigger.label}: the merge-base of base "
                        f"{short(base)} and head {short(head)} to the head (three dots)")

    def fallback(self, head: str, why: str) -> GitRange:
        """No usable before: the merge-base with the remote default branch, else the parent
        of head. The default branch's own merge-base with a commit on it is that commit,
        which would hide every change, so a push to the default branch skips it."""
        trigger, git = self.trigger, self.git
        default = trigger.default_branch or git.origin_head()
        if default and default != trigger.branch:
            tip = git.fetch_branch(default)
            if tip:
                found = git.deepening(lambda: git.merge_base(tip, head), tip, head)
                if found:
                    return GitRange(found, head, f"{why}; comparing with the merge-base with "
                                    f"the default branch {show(default)}")
            why += f"; no merge-base with the default branch {show(default)} could be had"
        return self.parent_range(head, why + "; comparing with the parent of the head")

    def parent_range(self, head: str, why: str) -> GitRange:
        parents = self.git.parents(head)
        if not parents:
            return GitRange(None, head, f"{why}; {short(head)} is a root commit, so every "
                            "file in it counts")
        parent = self.need(parents[0], f"the parent of {short(head)}")
        return GitRange(parent, head, why)

    def event_base(self) -> str:
        trigger = self.trigger
        if not trigger.base:
            raise GitError(f"git-diff: the {trigger.label} names no base commit; set git-base.")
        return self.need(trigger.base, f"the base commit of the {trigger.label}")

    def need(self, sha: str, what: str) -> str:
        if not self.git.have(sha, what):
            raise GitError(f"git-diff: {what} {short(sha)} is not in this clone and origin "
                           f"does not have it; {FIX}.")
        return sha

    def user_commit(self, rev: str, setting: str) -> str:
        """``git-base``/``git-head``: any commit-ish, but never something git would read as
        an option. A branch or commit missing from a shallow clone is fetched."""
        if rev.startswith("-") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in rev):
            raise InputError(f"{setting}: {show(rev)} is not a commit, branch or tag name.")
        git = self.git
        found = git.resolve(rev)
        if found:
            return found
        if SHA_RE.match(rev.lower()) and git.have(rev.lower(), setting):
            return rev.lower()
        if BRANCH_RE.match(rev):
            tip = git.fetch_branch(rev)
            if tip:
                return tip
        raise GitError(f"git-diff: {setting} {show(rev)} is not a commit in this repository "
                       f"and could not be fetched from origin; check the name, or {FIX}.")


def find_range(git: Git, settings: Settings, console: Console,
               trigger: Trigger | None = None) -> GitRange | None:
    """The range for this run, said in the log with the reason."""
    trigger = trigger or read_trigger(settings.env)
    found = RangeFinder(git, trigger).find(settings.git_base, settings.git_head)
    if found is None:
        console.info(f"git-diff: the {trigger.label} deleted its branch; nothing to compare.")
        return None
    base = short(found.base) if found.base else "(nothing)"
    console.info(f"git-diff: comparing {base}..{short(found.head)}: {found.reason}.")
    if found.warning:
        console.warning(found.warning, title="git-diff compared less than the push")
    return found


def list_raw(git: Git, found: GitRange) -> bytes:
    """One git process lists every change, with modes (to tell submodules and symlinks
    apart) and NUL-terminated names, so no name is quoted or split. ``diff-tree`` is the
    plumbing form of ``git diff``: the user's diff settings cannot change its output."""
    base = found.base or git.empty_tree()
    return git.run("diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", "--no-commit-id",
                   base, found.head, "--").stdout

