"""Sending: batches go out ``concurrency`` at a time; each ends with a BatchResult."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from jdcdn_action.batches import Batch
from jdcdn_action.exceptions import internal_error
from jdcdn_action.results import BatchResult

if TYPE_CHECKING:
    from jdcdn_action.api import Backend


def send_batches(
    api: Backend,
    batches: Sequence[Batch],
    concurrency: int,
    on_done: Callable[[BatchResult], None] = lambda _result: None,
    kind: Literal["refresh", "prefetch"] = "refresh",
) -> list[BatchResult]:
    """Send every batch; return their results in batch order.

    A batch never raises out of here: whatever happens to it becomes its result, so the
    caller can account for every URL. An interrupt (Ctrl-C, a cancelled job) stops the
    batches not yet started and raises Interrupted with every batch's result so far.
    """
    done: dict[int, BatchResult] = {}

    def send(batch: Batch) -> BatchResult:
        try:
            outcome = api.submit("prefetch" if kind == "prefetch" else batch.type,
                                 batch.instances)
        except Exception as error:  # a bug must not lose the batch: report it as failed
            result = BatchResult(batch, "failed", error=internal_error(error))
        else:
            result = BatchResult(
                batch,
                "succeeded" if outcome.ok else "failed",
                task_id=outcome.value.task_id if outcome.ok else "",
                attempts=outcome.attempts,
                error=outcome.error,
                cause=outcome.cause,
                request_id=outcome.request_id,
                warning=outcome.value.warning if outcome.ok else "",
            )
        done[batch.index] = result
        on_done(result)
        return result

    pool = None
    try:
        if concurrency <= 1 or len(batches) <= 1:
            return [send(batch) for batch in batches]
        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(batches)),
                                  thread_name_prefix="jdcdn")
        return list(pool.map(send, batches))
    except KeyboardInterrupt:
        if pool is not None:  # calls in flight end within their timeout; no new ones start
            pool.shutdown(wait=True, cancel_futures=True)
        raise Interrupted([
            done.get(batch.index) or BatchResult(
                batch, "failed", error="not sent, or its answer not seen: the run was "
                "interrupted")
            for batch in batches
        ]) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


class Interrupted(KeyboardInterrupt):
    """The run was interrupted while sending; ``results`` accounts for every batch."""

    def __init__(self, results: list[BatchResult]) -> None:
        super().__init__("interrupted")
        self.results = results
