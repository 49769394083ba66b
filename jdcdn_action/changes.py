"""``git-diff``: the files the triggering push, pull request or pipeline changed.

The range comes from ``gitrange``; here its one listing is parsed and mapped through
``source-dir``, ``include``, ``exclude`` and ``include-deleted`` into site paths. Pure
functions apart from ``changed_entries``, so a diff of 50k files costs one git process
and a pass over its output.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jdcdn_action.console import Console
from jdcdn_action.entries import Entry, show
from jdcdn_action.exceptions import GitError, InputError
from jdcdn_action.gitrange import Git, find_range, list_raw
from jdcdn_action.settings import Settings

ORIGIN = "git diff"
ABSENT = "000000"
GITLINK = "160000"  # a submodule: its bump is a commit ID, not a file anyone serves


@dataclass(frozen=True, slots=True)
class Change:
    """One changed repository path. ``deleted``: it is gone from the head (its stale copy
    must still go from the cache)."""

    path: str
    deleted: bool


@dataclass
class Listing:
    changes: list[Change]
    submodules: int = 0
    undecodable: tuple[bytes, ...] = ()


def parse_raw(data: bytes) -> Listing:
    """Parse ``git diff-tree -r -z --no-renames`` raw output.

    Each record is ``:<old mode> <new mode> <old id> <new id> <status>`` NUL ``<path>`` NUL.
    Modes decide, not the status letter: a path is in the head unless its new mode is
    absent or a submodule, so a file turned into a symlink (``T``) is refreshed as the
    link's own path, and a file replaced by a submodule counts as deleted.
    """
    listing = Listing([])
    undecodable: list[bytes] = []
    fields = data.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    if len(fields) % 2:
        raise GitError("git-diff: 'git diff-tree' printed a listing that cannot be read.")
    for meta, raw_path in zip(fields[0::2], fields[1::2], strict=True):
        parts = meta.split(b" ")
        if not meta.startswith(b":") or len(parts) != 5:
            raise GitError("git-diff: 'git diff-tree' printed a listing that cannot be read.")
        old_mode, new_mode = parts[0][1:].decode("ascii"), parts[1].decode("ascii")
        in_base = old_mode not in (ABSENT, GITLINK)
        in_head = new_mode not in (ABSENT, GITLINK)
        if not in_base and not in_head:
            listing.submodules += 1
            continue
        try:
            path = raw_path.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(raw_path)  # no URL can be written for it without a guess
            continue
        listing.changes.append(Change(path, deleted=not in_head))
    listing.undecodable = tuple(undecodable)
    return listing


# -- source-dir ----------------------------------------------------------------------------
def source_prefix(source_dir: str, root: str, cwd: str) -> str:
    """``source-dir`` as a repository path prefix: ``""`` or ``"public/"``.

    Relative to the working directory (normally the top of the checkout), so ``./public/``,
    ``public`` and an absolute path to it are the same folder. A folder outside the
    repository is refused: no file git lists could ever be under it.
    """
    text = source_dir.strip() or "."
    if "\0" in text:
        raise InputError(f"source-dir: {show(text)} contains a NUL character.")
    here = os.path.relpath(os.path.realpath(cwd), root).replace(os.sep, "/")
    if os.path.isabs(text):
        relative = os.path.relpath(os.path.realpath(text), root).replace(os.sep, "/")
    else:
        relative = posixpath.normpath(posixpath.join(here, text))
    if relative == ".." or relative.startswith("../"):
        raise InputError(
            f"source-dir: {show(source_dir)} is outside the repository at {show(root)}; "
            "name a folder inside it, relative to the top of the checkout (e.g. public)."
        )
    return "" if relative == "." else relative + "/"


# -- include / exclude ---------------------------------------------------------------------
def glob_to_regex(pattern: str) -> str:
    """One glob as a regular expression over a ``/``-separated path.

    ``*`` and ``?`` stay within one folder, ``[...]`` is a character class (``[!...]``
    negated) that never matches ``/``, ``**`` crosses folders (``**/`` also matches no
    folder at all, so ``**/*.css`` matches ``a.css``), a leading ``/`` or ``./`` is
    dropped and a trailing ``/`` means everything in that folder. These are the rules of
    GitHub's own ``paths`` filters; ``fnmatch`` alone would let ``*`` cross ``/``.
    """
    text = pattern.strip()
    text = text[2:] if text.startswith("./") else text
    text = text.lstrip("/")
    if text.endswith("/"):
        text += "**"
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("**", i):
            i += 2
            if text.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = _class_end(text, i)
            if end < 0:
                out.append(re.escape(ch))  # an unclosed '[' is a plain character
            else:
                body = text[i + 1:end]
                negate = body[:1] in ("!", "^")
                body = _class_body(body[1:] if negate else body)
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _class_end(text: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start`` (a ``]`` first is literal)."""
    i = start + 1
    if i < len(text) and text[i] in "!^":
        i += 1
    if i < len(text) and text[i] == "]":
        i += 1
    return text.find("]", i)


def _class_body(body: str) -> str:
    """Escape a class's characters for ``re``, keeping ``a-z`` ranges."""
    out = []
    for index, ch in enumerate(body):
        inner = 0 < index < len(body) - 1
        out.append("-" if ch == "-" and inner else re.escape(ch))
    return "".join(out)


def compile_globs(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """All patterns as one expression (one match per path, however many patterns)."""
    parts = [glob_to_regex(p) for p in patterns if p.strip()]
    if not parts:
        return None
    return re.compile("(?:" + "|".join(f"(?:{p})" for p in parts) + r")\Z", re.DOTALL)


# -- selection -----------------------------------------------------------------------------
@dataclass
class Selection:
    paths: list[str]
    outside: int = 0
    filtered: int = 0
    deleted_kept: int = 0
    deleted_dropped: int = 0


def select(changes: Iterable[Change], prefix: str, include: Sequence[str] = (),
           exclude: Sequence[str] = (), include_deleted: bool = True) -> Selection:
    """Keep changes under ``prefix``; return their site paths (relative to it)."""
    included, excluded = compile_globs(include), compile_globs(exclude)
    selection = Selection([])
    for change in changes:
        if not change.path.startswith(prefix):
            selection.outside += 1
            continue
        relative = change.path[len(prefix):]
        if (included and not included.match(relative)) or (
                excluded and excluded.match(relative)):
            selection.filtered += 1
            continue
        if change.deleted:
            if not include_deleted:
                selection.deleted_dropped += 1
                continue
            selection.deleted_kept += 1
        selection.paths.append(relative)
    return selection


def changed_entries(settings: Settings, console: Console) -> list[Entry]:
    """The entries ``git-diff`` adds: one file entry per changed path to refresh."""
    git = Git.open(settings.env)
    prefix = source_prefix(settings.source_dir, git.root, os.getcwd())
    found = find_range(git, settings, console)
    if found is None:
        return []
    listing = parse_raw(list_raw(git, found))
    selection = select(listing.changes, prefix, settings.include, settings.exclude,
                       settings.include_deleted)
    for raw in listing.undecodable:
        console.warning(f"git-diff: skipped {show(raw.decode('utf-8', 'replace'))}: its name "
                        "is not UTF-8, so its URL is unknown; list the URL in paths.",
                        title="git-diff")
    console.info(_summary(listing, selection, prefix))
    if prefix and not selection.paths and not os.path.isdir(os.path.join(git.root, prefix)):
        console.warning(f"source-dir {show(settings.source_dir)} is not a folder of this "
                        "checkout; check the name (it is relative to the working directory, "
                        "normally the top of the checkout).", title="git-diff")
    if console.debug_enabled:
        for path in selection.paths:
            console.debug(f"git-diff: {show(path, 300)}")
    gone = {c.path[len(prefix):] for c in listing.changes
            if c.deleted and c.path.startswith(prefix)}
    return [Entry(text=path, origin=ORIGIN, kind="file", repository_path=True,
                  deleted=path in gone) for path in selection.paths]


def _summary(listing: Listing, selection: Selection, prefix: str) -> str:
    where = f"under source-dir {show(prefix.rstrip('/'))}" if prefix else "in the repository"
    total = len(listing.changes)
    if not selection.paths:
        return (f"git-diff: {total} changed file{'s' if total != 1 else ''}, none to refresh "
                f"{where}; nothing to refresh from git.")
    notes = []
    if selection.outside:
        notes.append(f"{selection.outside} outside source-dir")
    if selection.filtered:
        notes.append(f"{selection.filtered} left out by include/exclude")
    if selection.deleted_kept:
        notes.append(f"{selection.deleted_kept} deleted, refreshed too")
    if selection.deleted_dropped:
        notes.append(f"{selection.deleted_dropped} deleted, skipped (include-deleted: false)")
    if listing.submodules:
        notes.append(f"{listing.submodules} submodule change(s) ignored")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (f"git-diff: {len(selection.paths)} of {total} changed files to refresh "
            f"{where}{extra}.")
