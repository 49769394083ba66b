"""Which URLs ``verify`` can check, and against which local file: pure functions.

A file URL made from a site path under a base URL is served from ``source-dir/<path>``;
a folder URL (made by index-files, or the base URL itself) from the folder's index file,
the first of ``index-files`` that exists, as a web server picks it. What has no known
local copy cannot be checked: directories (their files are not listed), URLs written as
absolute URLs, and URLs whose refresh failed (they are in ``failed`` already; fetching
them until verify-timeout would only say so again). File URLs that ``dir-threshold``
folded into a directory are still checked: their local copies are known.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from jdcdn_action.urls import UrlPlan

DIRECTORY = "a directory: the files under it are not listed, so none is fetched"
ABSOLUTE = "written as an absolute URL: its local copy is unknown"
NOT_REFRESHED = "its refresh failed (it is in 'failed')"


@dataclass(frozen=True, slots=True)
class Target:
    """One URL to verify. ``path``: its site path (a folder's ends in ``/``); None with
    ``why`` set: unchecked. ``deleted``: made only from files git saw deleted."""

    url: str
    path: str | None = None
    deleted: bool = False
    why: str = ""


def plan_targets(plan: UrlPlan, failed: Iterable[str] = ()) -> list[Target]:
    """Every URL of ``plan`` (and every file URL folded into one of its directories), in
    order: file URLs first, then directories, each sorted."""
    failed = set(failed)
    failed_dirs = tuple(url for url in plan.dirs if url in failed)
    targets = []
    for url in sorted(set(plan.files).union(plan.sources)):
        if url in failed or (failed_dirs and url.startswith(failed_dirs)):
            targets.append(Target(url, why=NOT_REFRESHED))
        elif url not in plan.sources:
            targets.append(Target(url, why=ABSOLUTE))
        else:
            targets.append(Target(url, plan.sources[url], url in plan.deleted))
    targets += [Target(url, why=DIRECTORY) for url in plan.dirs]
    return targets


def local_path(source_dir: str, path: str) -> str:
    """``source-dir/<path>`` in the local file system's terms."""
    return os.path.join(source_dir or ".", *path.split("/"))


def local_copy(source_dir: str, path: str, index_files: Sequence[str],
               is_file: Callable[[str], bool] = os.path.isfile) -> str | None:
    """The file a server would answer ``path`` with, or None: the file itself, or, for a
    folder (``""`` or a path ending in ``/``), its first index file that exists."""
    full = local_path(source_dir, path)
    if path and not path.endswith("/"):
        return full if is_file(full) else None
    for name in index_files:
        candidate = os.path.join(full, name)
        if is_file(candidate):
            return candidate
    return None


def no_copy_reason(source_dir: str, target: Target, index_files: Sequence[str]) -> str:
    """Why a target with no local copy is unchecked."""
    assert target.path is not None
    where = local_path(source_dir, target.path)
    if target.path and not target.path.endswith("/"):
        return f"no local file {where}"
    if target.deleted:
        return ("its index file was deleted: what the folder URL serves now is up to the "
                "server")
    names = ", ".join(index_files) or "none (index-files is none)"
    return f"no index file in {where} (index-files: {names})"
