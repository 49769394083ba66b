"""The git range for ``git-diff``: which two commits the triggering event compares.

Hand-written steps get this wrong in three ways: ``git diff HEAD~1`` misses all but the
last commit of a push, a shallow clone has no base, and a forced push has a base that is
not an ancestor. So the range comes from the event itself (``trigger``), missing commits
are fetched in a bounded number of steps (``git``), and the log says which range was used
and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from jdcdn_action.console import Console
from jdcdn_action.entries import show
from jdcdn_action.exceptions import GitError, InputError
from jdcdn_action.git import BRANCH_RE, FIX, SHA_RE, Git, short
from jdcdn_action.trigger import Trigger, is_zero, read_trigger


@dataclass(frozen=True)
class GitRange:
    """Compare ``base`` with ``head`` (both full commit IDs). ``base`` None: ``head`` is
    a root commit, so every file in it counts as added."""

    base: str | None
    head: str
    reason: str
    warning: str = ""  # set when the range is smaller than the event's own


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


@dataclass(frozen=True)
class Diff:
    """A range and git's listing of it: ``git diff-tree -r -z`` raw records."""

    range: GitRange
    raw: bytes


def diff(git: Git, env: Mapping[str, str], console: Console, git_base: str = "",
         git_head: str = "") -> Diff | None:
    """The range this run compares (from ``git-base``/``git-head``, else the CI event in
    ``env``) and its listing; None when there is nothing to compare."""
    found = find_range(git, read_trigger(env), console, git_base, git_head)
    return Diff(found, list_raw(git, found)) if found else None


def find_range(git: Git, trigger: Trigger, console: Console, git_base: str = "",
               git_head: str = "") -> GitRange | None:
    """The range for this run, said in the log with the reason."""
    found = RangeFinder(git, trigger).find(git_base, git_head)
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
