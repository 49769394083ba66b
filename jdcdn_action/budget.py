"""Budget: refresh a crowded folder as one directory instead of many URLs (``dir-threshold``).

JD's daily quota is 2000 file URLs and 50 directories. A deploy that rewrites 300 files of
``assets/`` would spend 300 URLs; one directory refresh of ``assets/`` covers them all.

The rules, pure functions of the mapped URLs (urls.UrlPlan):

- A file URL's folder is the URL up to its last ``/``; a folder URL made by index-files
  (``docs/``) belongs to the folder ``docs/`` itself. URLs with a query string stay files:
  whether a directory refresh reaches ``?v=2`` variants is not documented.
- "Files of one folder" are the file URLs *directly* in it. Counting whole subtrees would
  make every parent up to the site root cross the threshold as soon as one child does.
- Only folders at or below a base URL are candidates: the base URL is where ``source-dir``
  is served, and nothing above it is ours to refresh. URLs outside every base are left alone.
- Deepest folders first, then the fullest, each spending one directory of what ``max-dirs``
  leaves after the plan's own directories. A folder that holds folders chosen before it
  replaces them, so it never needs more room; a folder inside a planned directory costs none.
- A chosen directory replaces every planned file URL under it, subfolders included (a
  directory refresh covers everything below it): each replaced URL stays covered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from jdcdn_action.console import count
from jdcdn_action.exceptions import BudgetError
from jdcdn_action.urls import UrlPlan

if TYPE_CHECKING:
    from jdcdn_action.settings import Settings


@dataclass(frozen=True)
class Collapse:
    """One folder now refreshed as a directory, and how many file URLs it replaced."""

    folder: str
    files: int
    new_dir: bool = True  # False when a planned directory already covers the folder


@dataclass(frozen=True)
class Collapsed:
    plan: UrlPlan
    folders: tuple[Collapse, ...] = ()
    no_room: tuple[str, ...] = ()  # folders over the threshold that max-dirs left as files

    @property
    def urls_saved(self) -> int:
        return sum(c.files for c in self.folders)

    @property
    def dirs_added(self) -> int:
        return sum(c.new_dir for c in self.folders)


def folder_of(url: str) -> str | None:
    """``https://h/a/b.js`` -> ``https://h/a/``; None for a URL with a query string."""
    if "?" in url:
        return None
    return url[: url.rfind("/") + 1]


def _parents(folder: str) -> list[str]:
    """The folder and every folder above it, up to the host's root, deepest first."""
    root = folder.find("/", folder.find("://") + 3)
    found = []
    end = len(folder) - 1
    while end >= root:
        found.append(folder[: end + 1])
        end = folder.rfind("/", 0, end)
    return found


def _depth(folder: str) -> int:
    return folder.count("/")


def collapse(
    plan: UrlPlan, base_urls: tuple[str, ...] | list[str], threshold: int, max_dirs: int
) -> Collapsed:
    """Replace the file URLs of folders holding more than ``threshold`` of them by the folder.

    ``max_dirs`` 0 means no limit. The result's plan has the same directories plus the
    chosen folders, and every file URL not under a chosen folder.
    """
    if threshold <= 0 or not plan.files:
        return Collapsed(plan)
    bases = tuple(base_urls)
    counts = Counter(folder_of(url) for url in plan.files)
    candidates = [folder for folder, count in counts.items()
                  if folder is not None and count > threshold and folder.startswith(bases)]
    if not candidates:
        return Collapsed(plan)
    candidates.sort(key=lambda folder: (-_depth(folder), -counts[folder], folder))

    planned_dirs = set(plan.dirs)
    room = max_dirs - len(planned_dirs) if max_dirs else len(candidates)
    chosen: dict[str, bool] = {}  # folder -> needs a new directory
    no_room: list[str] = []
    for folder in candidates:
        if any(parent in planned_dirs for parent in _parents(folder)):
            chosen[folder] = False
            continue
        inner = [c for c, new in chosen.items() if new and c.startswith(folder)]
        cost = 1 - len(inner)
        if cost > room:
            no_room.append(folder)
            continue
        for c in inner:
            del chosen[c]
        chosen[folder] = True
        room -= cost

    replaced: Counter[str] = Counter()
    kept: list[str] = []
    for url in plan.files:
        folder = folder_of(url)
        owner = None if folder is None else next(
            (parent for parent in reversed(_parents(folder)) if parent in chosen), None)
        if owner is None:
            kept.append(url)
        else:
            replaced[owner] += 1
    # Covered-for-free folders may sit inside a chosen one: the outermost takes the URLs.
    folders = tuple(Collapse(folder, replaced[folder], chosen[folder])
                    for folder in sorted(chosen) if replaced[folder])
    new_dirs = planned_dirs | {c.folder for c in folders if c.new_dir}
    # A folder passed over for room may have been covered by a parent chosen after it.
    no_room = [f for f in no_room if not any(p in chosen for p in _parents(f))]
    return Collapsed(replace(plan, files=tuple(kept), dirs=tuple(sorted(new_dirs))),
                     folders, tuple(sorted(no_room)))


def describe(collapsed: Collapsed, threshold: int) -> list[str]:
    """Log lines: which folders were collapsed, how many URLs that saved, what did not fit."""
    lines = []
    if collapsed.folders:
        lines.append(
            f"dir-threshold {threshold}: {count(len(collapsed.folders), 'folder')} refreshed "
            f"as {'a directory' if len(collapsed.folders) == 1 else 'directories'}: "
            f"{collapsed.urls_saved} file URLs saved, "
            f"{count(collapsed.dirs_added, 'directory', 'directories')} used.")
        for c in collapsed.folders:
            covered = "" if c.new_dir else ", inside a planned directory"
            lines.append(f"  {c.folder} (instead of {count(c.files, 'file URL')}{covered})")
    if collapsed.no_room:
        shown = ", ".join(collapsed.no_room[:10])
        more = f" and {len(collapsed.no_room) - 10} more" if len(collapsed.no_room) > 10 else ""
        lines.append(
            f"dir-threshold {threshold}: max-dirs left no room for "
            f"{count(len(collapsed.no_room), 'more folder')}; their files stay file URLs: "
            f"{shown}{more}.")
    return lines


def check(plan: UrlPlan, settings: Settings, collapsed: Collapsed | None = None) -> None:
    """Refuse, before any call, a plan over max-urls or max-dirs, saying what would help.

    With prefetch every file URL is submitted twice (refresh, then prefetch), and both
    count against JD's daily 2000 URLs.
    """
    urls = len(plan.files) * (2 if settings.prefetch else 1)
    if settings.max_urls and urls > settings.max_urls:
        counted = (f"{count(len(plan.files), 'file URL')}, {urls} with prefetch (each URL is "
                   "refreshed and prefetched)" if settings.prefetch
                   else count(len(plan.files), "file URL"))
        if collapsed is not None and collapsed.folders:
            counted += f" after dir-threshold saved {collapsed.urls_saved}"
        helps = ["narrow paths/include/exclude"]
        if not settings.dir_threshold:
            helps.append("set dir-threshold (e.g. 20) to refresh crowded folders as "
                         "directories")
        else:
            helps.append(f"lower dir-threshold (now {settings.dir_threshold})")
            if collapsed is not None and collapsed.no_room:
                helps.append(f"raise max-dirs ({len(collapsed.no_room)} folders over "
                             "dir-threshold found no room)")
        if settings.prefetch:
            helps.append("turn prefetch off")
        helps.append("raise max-urls")
        raise BudgetError(
            f"max-urls: the plan has {counted}, over the limit of {settings.max_urls} "
            f"(JD's daily quota is 2000 URLs); nothing was sent. To fit, "
            f"{', '.join(helps[:-1])} or {helps[-1]}."
        )
    if settings.max_dirs and len(plan.dirs) > settings.max_dirs:
        raise BudgetError(
            f"max-dirs: the plan has {count(len(plan.dirs), 'directory', 'directories')}, "
            "over the limit of "
            f"{settings.max_dirs} (JD's daily quota is 50); nothing was sent. List fewer "
            "directories or raise max-dirs."
        )
