"""Waiting: poll refreshQuery/prefetchQuery until every task has finished or time runs out.

A 200 from the refresh call only means JD accepted the task; the cache is fresh minutes
later. Waiting is bounded by ``wait-timeout`` in wall time (a monotonic clock), polls each
unfinished task once per ``poll-interval`` (concurrently), and stops polling a task once it
has finished, or once a poll has failed after all its attempts: such a task is "unknown"
and reported as pending, never taken for a success.

The clock and the sleep are injected, so tests can run minutes of waiting in no time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from jdcdn_action.console import Console, count, printable
from jdcdn_action.exceptions import internal_error
from jdcdn_action.results import BatchResult, TaskState, settle

if TYPE_CHECKING:
    from jdcdn_action.api import Backend

HEARTBEAT = 60.0  # seconds: the longest the log stays silent while waiting

Kind = Literal["refresh", "prefetch"]


class DeadlineReached(Exception):
    """A retry's back-off would end after ``wait-timeout``: the wait ends now."""


class Deadline:
    """The end of all waiting, shared by the refresh and the prefetch tasks.

    Its ``sleep`` is the API client's sleep too: while a deadline is set, a retry that would
    sleep past it raises DeadlineReached instead, so retries cannot stretch the wait.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock = clock
        self._sleep = sleep
        self.at: float | None = None

    def start(self, seconds: float) -> None:
        if self.at is None:  # "wait-timeout: seconds to wait in all"
            self.at = self.clock() + seconds

    def remaining(self) -> float:
        return float("inf") if self.at is None else max(0.0, self.at - self.clock())

    def sleep(self, seconds: float) -> None:
        if self.at is not None and self.clock() + seconds > self.at:
            raise DeadlineReached
        self._sleep(seconds)

    def sleep_until(self, moment: float) -> None:
        """Sleep until ``moment`` (never past the deadline)."""
        if self.at is not None:
            moment = min(moment, self.at)
        delay = moment - self.clock()
        if delay > 0:
            self._sleep(delay)


def wait_for_tasks(
    api: Backend,
    submitted: Sequence[BatchResult],
    kind: Kind,
    deadline: Deadline,
    interval: float,
    console: Console,
    concurrency: int = 4,
    heartbeat: float = HEARTBEAT,
    on_final: Callable[[TaskState], None] = lambda _state: None,
) -> list[TaskState]:
    """Poll the tasks of ``submitted`` (succeeded batches) until all finish or time is up.

    Returns one TaskState per task, in batch order. Logs one line per change of state and
    a line at least every ``heartbeat`` seconds while nothing changes. ``on_final`` hears
    of each task as soon as it has finished, so an interrupted wait still knows which
    tasks were confirmed.
    """
    batches = {r.task_id: r for r in submitted if r.outcome == "succeeded" and r.task_id}
    if not batches:
        return []
    if deadline.at is None:
        raise ValueError("start the deadline before waiting")
    end, clock = deadline.at, deadline.clock
    started = last_line = clock()
    states = {task_id: TaskState(task_id, kind, "running") for task_id in batches}
    open_ids = list(batches)
    out_of_time = threading.Event()  # a retry would have ended after the deadline

    def label(task_id: str) -> str:
        batch = batches[task_id].batch
        size = len(batch.instances)
        what = count(size, "directory", "directories") if batch.type == "dir" else count(
            size, "URL")
        return f"{kind} task {printable(task_id)} (batch {batch.index}, {what})"

    def poll(task_ids: list[str]) -> list[TaskState]:
        """One status query for up to ``query_ids_per_call`` tasks. A task the answer
        does not mention stays running (asked again); a query that failed for good makes
        its tasks unknown, which is reported as pending, never as a success."""
        try:
            outcome = api.query(kind, task_ids, time_left=deadline.remaining)
        except DeadlineReached:
            out_of_time.set()
            return [TaskState(t, kind, "running", "wait-timeout ran out during a retry")
                    for t in task_ids]
        except Exception as error:  # a bug must not pass for an answer
            return [TaskState(t, kind, "unknown", internal_error(error))
                    for t in task_ids]
        if not outcome.ok:
            return [TaskState(t, kind, "unknown", f"no answer to the status query: "
                              f"{outcome.error}") for t in task_ids]
        answered = outcome.value
        return [settle(t, kind, answered[t], batches[t].batch.instances) if t in answered
                else TaskState(t, kind, "running") for t in task_ids]

    def heartbeat_line() -> None:
        console.info(f"Still waiting for {len(open_ids)} of {count(len(batches), kind + ' task')}"
                     f" ({_seconds(clock() - started)} so far, {_seconds(end - clock())} left "
                     "of wait-timeout).")

    console.info(f"Waiting for {count(len(batches), kind + ' task')} (every "
                 f"{_seconds(interval)}, for at most {_seconds(deadline.remaining())}).")
    next_poll = started + interval
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(batches))),
                            thread_name_prefix="jdcdn-poll") as pool:
        while open_ids:
            # Sleep towards the next poll in steps, so the log speaks at least every minute.
            while clock() < min(next_poll, end):
                if clock() >= last_line + heartbeat:
                    heartbeat_line()
                    last_line = clock()
                deadline.sleep_until(min(next_poll, last_line + heartbeat))
            final_round = clock() >= end
            round_started = clock()
            size = api.query_ids_per_call
            chunks = [open_ids[n:n + size] for n in range(0, len(open_ids), size)]
            for state in (s for chunk in pool.map(poll, chunks) for s in chunk):
                task_id = state.task_id
                states[task_id] = state
                if state.state == "running":
                    continue
                if state.state != "unknown":
                    on_final(state)
                took = _seconds(clock() - started)
                detail = f" ({state.detail})" if state.detail else ""
                if state.state == "succeeded":
                    console.info(f"{label(task_id)}: succeeded after {took}.")
                elif state.state == "failed" and state.failed_urls is not None:
                    console.warning(f"{label(task_id)}: finished after {took}; "
                                    f"{_url_failures(state)}.", title=f"{kind} task failed")
                elif state.state == "failed":
                    console.warning(f"{label(task_id)}: JD reports the task failed after "
                                    f"{took}{detail}.", title=f"{kind} task failed")
                else:
                    console.warning(f"{label(task_id)}: state unknown, {state.detail}; "
                                    "reported as pending.", title=f"{kind} task not confirmed")
                last_line = clock()
            open_ids = [t for t in open_ids if states[t].state == "running"]
            if final_round or out_of_time.is_set() or clock() >= end:
                break
            next_poll = max(round_started + interval, clock())

    if open_ids:
        console.warning(
            f"wait-timeout ran out after {_seconds(clock() - started)} with "
            f"{count(len(open_ids), kind + ' task')} still running: "
            f"{', '.join(map(printable, open_ids))}; "
            "they are in pending-task-ids (JD usually finishes them anyway).",
            title="jdcdn-action stopped waiting")
    tally = {name: sum(1 for s in states.values() if s.state == name)
             for name in ("succeeded", "failed", "running", "unknown")}
    console.info(f"{kind.capitalize()} tasks: " + ", ".join(
        f"{count} {'still running' if name == 'running' else name}"
        for name, count in tally.items() if count) + ".")
    return list(states.values())


def _url_failures(state: TaskState) -> str:
    """What JD said of the URLs of a finished task: which failed, which it did not list."""
    parts = []
    for urls, what in ((state.failed_urls or (), "JD reports {} of its URLs failed"),
                       (state.unconfirmed_urls, "JD reported no state for {} of its URLs "
                                                "(counted as failed)")):
        if urls:
            parts.append(what.format(len(urls)) + f": {urls[0]}"
                         + (" ..." if len(urls) > 1 else ""))
    return "; ".join(parts) or "JD reports the task failed"


def _seconds(value: float) -> str:
    """12.5s, 3m 05s: short enough for a log line."""
    if value == float("inf"):
        return "no limit"
    if value < 60:
        return (f"{value:.2f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}") + "s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m {seconds:02d}s"
