"""Prefetch: warm the refreshed file URLs once their refresh has succeeded (``prefetch``).

Warming a URL whose refresh has not finished would cache the stale copy again, so only the
file URLs of refresh tasks that JD reports as succeeded are prefetched. Directories cannot
be prefetched (the API takes URLs only). JD's docs say 100 URLs per call, but its status 10
says "more than 50 prefetch URLs": 50 it is. Prefetch counts against the same daily quota
of 2000 URLs as refreshes and works only for nodes in mainland China.
"""

from __future__ import annotations

from jdcdn_action.batches import Batch
from jdcdn_action.console import count
from jdcdn_action.results import RunResult

PREFETCH_PER_CALL = 50


def warmable(result: RunResult) -> tuple[list[str], list[str]]:
    """The file URLs whose refresh task succeeded, and those left out (failed, unfinished)."""
    done = {t.task_id for t in result.tasks if t.kind == "refresh" and t.state == "succeeded"}
    urls: list[str] = []
    left_out: list[str] = []
    for r in result.batches:
        if r.batch.type == "file":
            (urls if r.task_id and r.task_id in done else left_out).extend(r.batch.instances)
    return urls, left_out


def plan_prefetch(urls: list[str]) -> list[Batch]:
    """Batches of at most 50 URLs, numbered from 1, in the order given."""
    return [Batch(n + 1, "file", tuple(urls[start : start + PREFETCH_PER_CALL]))
            for n, start in enumerate(range(0, len(urls), PREFETCH_PER_CALL))]


def prefetch_notes(result: RunResult, urls: list[str], left_out: list[str]) -> list[str]:
    """What the log and the summary say about what is not warmed, and why."""
    notes = []
    if result.plan.dirs:
        dirs = count(len(result.plan.dirs), "directory", "directories")
        notes.append(f"prefetch: {dirs} {'is' if dirs.startswith('1 ') else 'are'} not "
                     "prefetched (JD prefetches file URLs only).")
    if left_out:
        notes.append(f"prefetch: {count(len(left_out), 'file URL')} "
                     f"{'is' if len(left_out) == 1 else 'are'} not prefetched because the "
                     "refresh failed or did not finish.")
    if not urls:
        notes.append("prefetch: no refreshed file URL to warm.")
    return notes
