"""Real git repositories for the tests: a bare ``origin``, work trees and shallow clones.

Every git call here runs with its own HOME and no system config, fixed author dates and
names, so the tests neither read nor change the config of the machine they run on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
        "LC_ALL": "C",
        # No template: every init and clone would copy a dozen sample hooks, never run.
        "GIT_TEMPLATE_DIR": "",
    }


def run_git(cwd: Path, home: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=git_env(home), capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout.decode("utf-8", "surrogateescape").strip()


class Repo:
    """A work tree. ``commit`` stages everything and returns the new commit ID."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path = path
        self.home = home

    @classmethod
    def init(cls, path: Path, home: Path, branch: str = "main") -> Repo:
        path.mkdir(parents=True)
        run_git(path, home, "init", "--quiet", "--initial-branch", branch)
        return cls(path, home)

    @classmethod
    def clone(cls, url: str, path: Path, home: Path, *options: str) -> Repo:
        run_git(path.parent, home, "clone", "--quiet", *options, url, str(path))
        return cls(path, home)

    def git(self, *args: str, check: bool = True) -> str:
        return run_git(self.path, self.home, *args, check=check)

    def write(self, name: str | bytes, content: str = "x\n") -> None:
        raw = name if isinstance(name, bytes) else name.encode("utf-8")
        target = os.path.join(bytes(self.path), raw)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(content.encode("utf-8"))

    def remove(self, name: str) -> None:
        (self.path / name).unlink()

    def symlink(self, name: str, target: str) -> None:
        link = self.path / name
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)

    def commit(self, message: str = "change", *files: str, **written: str) -> str:
        """Write ``files`` (or ``name=content``), stage everything, commit."""
        for name in files:
            self.write(name, f"{name} {message}\n")
        for name, content in written.items():
            self.write(name, content)
        self.git("add", "--all")
        # The new commit's ID, from the summary line ("[main 0123...] message") that
        # core.abbrev=no spells in full: no third git process to ask for it.
        summary = self.git("-c", "core.abbrev=no", "commit", "--allow-empty", "-m", message)
        found = re.search(r" ([0-9a-f]{40}|[0-9a-f]{64})\] ", summary.partition("\n")[0])
        assert found, f"no commit ID in git commit's summary: {summary!r}"
        return found.group(1)

    def head(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev)


@dataclass(frozen=True)
class Branches:
    fork: str
    head: str
    main: str


class Origin:
    """A bare repository reached over ``file://``, as a CI clone reaches its origin."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.bare = root / "origin.git"
        run_git(root, self.home, "init", "--quiet", "--bare", "--initial-branch", "main",
                str(self.bare))
        self.url = self.bare.as_uri()
        self.work = Repo.init(root / "author", self.home)
        self.work.git("remote", "add", "origin", self.url)
        self.root = root

    def push(self, *args: str) -> None:
        self.work.git("push", "--quiet", "origin", *args)

    def clone(self, name: str = "checkout", *options: str) -> Repo:
        return Repo.clone(self.url, self.root / name, self.home, *options)

    def feature(self, site: Sequence[str], commits: Sequence[Sequence[str]],
                main_moves: Sequence[str] = ()) -> Branches:
        """main with the files ``site``; a ``feature`` branch off it with one commit per
        list of files in ``commits``; then, with ``main_moves``, one more commit on main
        touching those files. Everything is pushed."""
        author = self.work
        fork = author.commit("site", *site)
        self.push("main")
        author.git("checkout", "--quiet", "-b", "feature")
        for number, files in enumerate(commits):
            author.commit(f"feature {number}", *files)
        head = author.head()
        self.push("feature")
        author.git("checkout", "--quiet", "main")
        if main_moves:
            author.commit("main moves on", *main_moves)
            self.push("main")
        return Branches(fork, head, author.head())

    def prune(self) -> None:
        """Drop commits no branch reaches, as a forge eventually does after a force push."""
        run_git(self.bare, self.home, "reflog", "expire", "--expire=now", "--all")
        run_git(self.bare, self.home, "gc", "--quiet", "--prune=now")


def event_file(path: Path, payload: dict) -> str:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


# -- what CI tells the command about the push ------------------------------------------------
ZEROS = "0" * 40  # GitHub's and GitLab's "no commit" (a new branch, a deleted one)


def push_event(before: str, after: str, ref: str = "refs/heads/main", forced: bool = False,
               default: str = "main") -> dict:
    return {"before": before, "after": after, "ref": ref, "forced": forced,
            "repository": {"default_branch": default}}


def gitlab_env(**values: str) -> dict[str, str]:
    """GitLab's predefined variables of a pipeline on a project whose default branch is
    main, with ``values``."""
    return {"CI_DEFAULT_BRANCH": "main"} | values
