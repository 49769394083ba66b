"""The JD APIs: two interchangeable backends behind one small interface.

The rest of the run speaks only ``Backend``: submit one batch (a task ID, or a failure
with its cause), ask for the states of some tasks, and stop once the credentials are
refused. ``legacy`` speaks the legacy API at opencdn (username + SecretKey, a daily md5);
``openapi`` is JD Cloud's OpenAPI (access keys, STS tokens, JDCLOUD3-HMAC-SHA256). Where the
facts differ the values say so: only the OpenAPI knows which URLs of a task failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from jdcdn_action.api.retrying import CallResult

SubmitKind = Literal["file", "dir", "prefetch"]
TaskKind = Literal["refresh", "prefetch"]


@dataclass(frozen=True)
class Submitted:
    """An accepted call. ``warning``: the API accepted the call but not all its URLs."""

    task_id: str
    warning: str = ""


@dataclass(frozen=True)
class TaskStatus:
    """A task's state as the API reports it. ``failed_urls`` and ``succeeded_urls`` are
    the URLs it lists with that state, as it spells them; both are None when the API says
    nothing per URL (legacy, or an empty ``urlTasks``): the state then stands for every URL
    of the task. Which URLs sent they mean is decided against the batch
    (``results.settle``)."""

    state: Literal["running", "succeeded", "failed"]
    message: str = ""
    failed_urls: tuple[str, ...] | None = None
    succeeded_urls: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Quota:
    """The day's quota as JD reports it (OpenAPI queryCdnUserQuota): for file URLs
    (``refresh``), directories and prefetch, the day's total, what is used and what is
    left. A count JD's answer lacks is None; the two ``remained`` counts are required."""

    refresh_remained: int
    dir_remained: int
    refresh_all: int | None = None
    refresh_used: int | None = None
    dir_all: int | None = None
    dir_used: int | None = None
    prefetch_all: int | None = None
    prefetch_used: int | None = None
    prefetch_remained: int | None = None


class Backend(Protocol):
    name: str
    endpoint: str
    query_ids_per_call: int  # task IDs one status query may ask about

    def submit(self, kind: SubmitKind, urls: Sequence[str]) -> CallResult:
        """One refresh or prefetch call; its value is a ``Submitted``."""
        ...

    def query(self, kind: TaskKind, task_ids: Sequence[str],
              time_left: Callable[[], float] | None = None) -> CallResult:
        """The states of ``task_ids``; its value maps each task ID answered to a
        ``TaskStatus`` (a task missing from the answer is still unknown)."""
        ...

    def quota(self) -> CallResult | None:
        """The day's quota, read once before the first refresh call; its value is a
        ``Quota``. None: this API has no quota call (legacy)."""
        ...

    def close(self) -> None: ...
