"""git, run as a subprocess in one repository: fixed argv, no shell, bounded time.

What ``gitrange`` needs to answer questions about history and to fetch what a shallow
clone lacks; what origin answered to a fetch is kept apart from "could not ask", since
only the first may ever make a range smaller.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from jdcdn_action.entries import show
from jdcdn_action.exceptions import GitError

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
