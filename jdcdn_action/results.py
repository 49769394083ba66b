"""Results: how each batch ended, and what the whole run adds up to.

Every planned URL ends in exactly one batch, and every batch ends in exactly one outcome,
so a URL is either under a task ID or in ``failed``: nothing is lost in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from jdcdn_action.api import Quota, TaskStatus
from jdcdn_action.batches import Batch
from jdcdn_action.console import clean_text, count
from jdcdn_action.urls import UrlPlan, url_key

Outcome = Literal["succeeded", "failed", "planned"]
VerifyOutcome = Literal["fresh", "stale", "unchecked"]


@dataclass(frozen=True)
class BatchResult:
    batch: Batch
    outcome: Outcome
    task_id: str = ""
    attempts: int = 0
    error: str = ""
    cause: str = ""  # the error without one attempt's details, to count causes by
    request_id: str = ""  # the API's ID of the failed request, where it gives one
    warning: str = ""  # accepted, but the API did not take every URL (OpenAPI errorCount)


# The cause of a URL sent that a finished task does not list as succeeded or failed.
NO_STATE = "JD reported no state for it"


@dataclass(frozen=True)
class TaskState:
    """A task's final state after waiting (``wait``/``prefetch``). ``failed_urls``: the
    URLs sent that the API reports failed (OpenAPI); None: a failed task fails all its
    URLs. ``unconfirmed_urls``: URLs sent that the finished task does not report at all;
    they count as failed (``NO_STATE``)."""

    task_id: str
    kind: Literal["refresh", "prefetch"]
    state: Literal["succeeded", "failed", "running", "unknown"]
    detail: str = ""
    failed_urls: tuple[str, ...] | None = None
    unconfirmed_urls: tuple[str, ...] = ()


def settle(task_id: str, kind: Literal["refresh", "prefetch"], status: TaskStatus,
           sent: Sequence[str]) -> TaskState:
    """The state of a task's URLs ``sent``, from what the API reports of it.

    The API may spell a URL another way than it was sent, so both are compared by
    ``url_key``. A URL is confirmed only by its own ``success``: one the finished task does
    not list is unconfirmed, and a failed URL that matches none sent fails them all (which
    one it meant cannot be told).
    """
    if status.state == "running" or status.failed_urls is None:
        return TaskState(task_id, kind, status.state, status.message, status.failed_urls)
    sent_by_key: dict[str, list[str]] = {}
    for url in sent:
        sent_by_key.setdefault(url_key(url), []).append(url)
    failed: set[str] = set()
    for listed in status.failed_urls:
        matched = sent_by_key.get(url_key(listed))
        if not matched:
            return TaskState(task_id, kind, "failed", f"JD reports the URL "
                             f"{clean_text(listed, 120)} failed, which matches no URL sent")
        failed.update(matched)
    succeeded = {url for listed in status.succeeded_urls or ()
                 for url in sent_by_key.get(url_key(listed), ())}
    unconfirmed = tuple(url for url in sent if url not in failed and url not in succeeded)
    detail = status.message or (f"{count(len(unconfirmed), 'URL')} sent not in its list "
                                f"({NO_STATE})" if unconfirmed else "")
    return TaskState(task_id, kind, "failed" if failed or unconfirmed else "succeeded",
                     detail, tuple(url for url in sent if url in failed), unconfirmed)


@dataclass(frozen=True)
class QuotaReading:
    """The quota read before the first refresh call: the counts, or why there are none
    (``error``: the read failed; ``note``: there is no such read, as with the legacy API)."""

    quota: Quota | None = None
    error: str = ""
    note: str = ""


@dataclass
class UrlCheck:
    """What ``verify`` found for one URL; updated after each fetch.

    ``local_file`` is the copy it is compared with; ``expect_gone``: git saw the file
    deleted, so the CDN must answer 404 or 410. ``detail`` says why a URL is unchecked or
    stale (the status, a redirect's target host, an error); ``headers`` are the cache
    headers of the last answer.
    """

    url: str
    outcome: VerifyOutcome = "stale"
    local_file: str = ""
    expected_sha256: str = ""
    expect_gone: bool = False
    last_sha256: str = ""
    last_status: int | None = None
    attempts: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    location: str = ""
    detail: str = ""


@dataclass
class Verification:
    """Every URL of the plan as ``verify`` left it, and how long it took."""

    checks: list[UrlCheck]
    timeout: float
    seconds: float = 0.0

    def urls(self, outcome: VerifyOutcome) -> list[str]:
        return [c.url for c in self.checks if c.outcome == outcome]

    @property
    def stale(self) -> list[str]:
        return self.urls("stale")

    @property
    def fresh(self) -> list[str]:
        return self.urls("fresh")

    @property
    def unchecked(self) -> list[str]:
        return self.urls("unchecked")


@dataclass
class RunResult:
    plan: UrlPlan
    batches: list[BatchResult]
    dry_run: bool = False
    tasks: list[TaskState] = field(default_factory=list)
    prefetch_batches: list[BatchResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quota: QuotaReading | None = None  # None: not read (dry run, nothing to refresh)
    verification: Verification | None = None  # None: verify off or skipped

    @property
    def task_ids(self) -> list[str]:
        return [r.task_id for r in self.batches if r.outcome == "succeeded"]

    @property
    def failed_tasks(self) -> set[str]:
        return {t.task_id for t in self.tasks if t.kind == "refresh" and t.state == "failed"}

    @property
    def failed_batches(self) -> list[BatchResult]:
        bad = self.failed_tasks
        return [r for r in self.batches if r.outcome == "failed" or r.task_id in bad]

    def _lost(self, results: list[BatchResult], kind: str) -> list[str]:
        """The URLs of ``results`` not refreshed: every URL of a failed call, and of a
        failed task those the API names failed or left unconfirmed (all of them where it
        names none)."""
        failed = {t.task_id: t for t in self.tasks if t.kind == kind and t.state == "failed"}
        lost = []
        for result in results:
            task = failed.get(result.task_id) if result.outcome == "succeeded" else None
            if result.outcome == "failed" or (task and task.failed_urls is None):
                lost += result.batch.instances
            elif task:
                named = {*(task.failed_urls or ()), *task.unconfirmed_urls}
                lost += [url for url in result.batch.instances if url in named]
        return lost

    @property
    def failed_files(self) -> list[str]:
        return self._lost([r for r in self.batches if r.batch.type == "file"], "refresh")

    @property
    def failed_dirs(self) -> list[str]:
        return self._lost([r for r in self.batches if r.batch.type == "dir"], "refresh")

    @property
    def failed(self) -> list[str]:
        return self.failed_files + self.failed_dirs

    @property
    def pending_task_ids(self) -> list[str]:
        return [t.task_id for t in self.tasks if t.state in ("running", "unknown")]

    @property
    def prefetch_task_ids(self) -> list[str]:
        return [r.task_id for r in self.prefetch_batches if r.outcome == "succeeded"]

    @property
    def prefetch_failed(self) -> list[str]:
        return self._lost(self.prefetch_batches, "prefetch")

    def failure_causes(self) -> Counter[str]:
        """Why batches failed, commonest first: the call's cause, or the task's end."""
        failed_tasks = {t.task_id: t for t in self.tasks if t.state == "failed"}
        causes: Counter[str] = Counter()
        for result in [*self.failed_batches, *(r for r in self.prefetch_batches
                                               if r.outcome == "failed"
                                               or r.task_id in failed_tasks)]:
            if result.outcome == "failed":
                causes[result.cause or result.error or "unknown"] += 1
            elif failed_tasks[result.task_id].failed_urls == ():  # only unconfirmed URLs
                causes[f"the task finished, but {NO_STATE} (a URL sent that JD did not "
                       "list)"] += 1
            else:
                detail = failed_tasks[result.task_id].detail
                causes["JD reports the task failed" + (f" ({detail})" if detail else "")] += 1
        return causes

    @property
    def stale(self) -> list[str]:
        """The URLs ``verify`` found still not serving their local copy at the end."""
        return self.verification.stale if self.verification else []

    @property
    def ok(self) -> bool:
        return not self.failed and not self.prefetch_failed and not self.stale
