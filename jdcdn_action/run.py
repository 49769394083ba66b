"""The run: settings -> entries -> URLs -> batches -> calls -> results -> outputs.

Planning is pure and happens first, with every check (budget, result files) before the
first call; then one backend sends the batches, waits and warms as asked, and every
channel gets the same facts. ``cli`` turns what goes wrong into exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from jdcdn_action import budget
from jdcdn_action import entries as entries_mod
from jdcdn_action.batches import Batch, plan_batches
from jdcdn_action.console import Console, count, printable
from jdcdn_action.outputs import check_result_files, write_outputs
from jdcdn_action.results import BatchResult, RunResult, TaskState, Verification
from jdcdn_action.settings import Settings
from jdcdn_action.urls import UrlPlan, map_entries

if TYPE_CHECKING:  # requests and threads are imported only when something is sent
    from jdcdn_action.api import Backend
    from jdcdn_action.waiting import Deadline


def run(settings: Settings, console: Console) -> int:
    """Plan, check, send, wait, write the results; return the exit code."""
    check_result_files(settings)
    notes: list[str] = []
    plan = build_plan(settings, console, notes)
    batches = plan_batches(plan)
    result = RunResult(plan=plan, batches=[], dry_run=settings.dry_run, notes=notes)

    if plan.empty:
        console.info("Nothing to refresh: no entries were given or found.")
    elif settings.dry_run:
        console.info(f"Dry run: {_plan_sentence(plan, len(batches))}; nothing is sent.")
        _print_plan(console, batches)
        result.batches = [BatchResult(b, "planned") for b in batches]
        skipped = [name for name in ("wait", "prefetch", "verify") if getattr(settings, name)]
        if skipped:
            names = ", ".join(skipped[:-1]) + " and " + skipped[-1] if len(skipped) > 1 \
                else skipped[0]
            result.notes.append(f"Dry run: {names} skipped (nothing was sent).")
            console.info(result.notes[-1])
    else:
        if settings.verify:
            from jdcdn_action.verify import check_source_dir

            check_source_dir(settings.source_dir)
        console.info(f"Refreshing {_plan_sentence(plan, len(batches))} "
                     f"via {settings.api_endpoint} ({settings.api} API).")
        for line in settings.network.describe(settings.api_endpoint):
            console.info(line)
        from jdcdn_action.quota import read_quota
        from jdcdn_action.sending import Interrupted
        from jdcdn_action.waiting import Deadline

        deadline = Deadline()
        api = make_backend(settings, console, deadline)
        try:
            result.quota = read_quota(api, console, plan, settings)
            result.batches = send(settings, console, api, batches)
            if settings.wait or settings.prefetch:
                follow_up(settings, console, api, deadline, result)
            if settings.verify:
                from jdcdn_action.verify import run_verify

                run_verify(settings, console, result)
        except KeyboardInterrupt as stop:
            # Keep what was done: accepted batches keep their task IDs, the rest is failed.
            if isinstance(stop, Interrupted):
                result.batches = stop.results
            elif settings.wait or settings.prefetch:
                result.tasks += unconfirmed(result)
            doing = "sending" if isinstance(stop, Interrupted) else (
                "verifying" if result.verification else "waiting")
            result.notes.append(f"The run was interrupted while {doing}.")
            write_outputs(settings, console, result)
            console.error(f"interrupted: {count(len(result.failed), 'URL')} not confirmed sent "
                          "are in the 'failed' output and the report.", title="jdcdn-action")
            return 130
        finally:
            api.close()

    write_outputs(settings, console, result)
    return finish(settings, console, result)


def build_plan(settings: Settings, console: Console, notes: list[str] | None = None) -> UrlPlan:
    """Collect every entry, map it to URLs, collapse crowded folders (dir-threshold), and
    check the budget before anything is sent."""
    collected = entries_mod.collect(settings.paths, settings.paths_file, settings.arguments)
    if settings.git_diff:
        from jdcdn_action.changes import changed_entries

        collected += changed_entries(
            console, settings.env, source_dir=settings.source_dir, include=settings.include,
            exclude=settings.exclude, include_deleted=settings.include_deleted,
            git_base=settings.git_base, git_head=settings.git_head)
    plan = map_entries(collected, settings.base_urls, settings.type, settings.index_files)
    collapsed = budget.collapse(plan, settings.base_urls, settings.dir_threshold,
                                settings.max_dirs)
    lines = budget.describe(collapsed, settings.dir_threshold)
    for line in lines:
        console.info(line)
    if notes is not None and lines:
        notes.append(lines[0])
    budget.check(collapsed.plan, settings, collapsed)
    return collapsed.plan


def make_backend(settings: Settings, console: Console, deadline: Deadline) -> Backend:
    """One backend for the whole run: calls, polls and prefetches share its state (the
    legacy date that works, a refusal of the credentials).

    Its retries sleep through ``deadline``, so once waiting has begun no retry can
    outlast wait-timeout. Every signature is masked as soon as it is made.
    """
    common = {"timeout": settings.timeout, "max_attempts": settings.max_attempts,
              "backoff": settings.backoff, "pool_size": settings.concurrency,
              "network": settings.network,
              "on_signature": console.mask, "on_retry": console.info,
              "on_debug": console.debug, "sleep": deadline.sleep}
    if settings.api == "openapi":
        from jdcdn_action.api.openapi import OpenApi

        return OpenApi(settings.api_endpoint, settings.access_key_id,
                       settings.access_key_secret, settings.security_token, **common)
    from jdcdn_action.api.legacy import LegacyApi

    return LegacyApi(settings.api_endpoint, settings.username, settings.secret_key,
                     settings.signature_timezone, **common)


def send(settings: Settings, console: Console, api: Backend, batches: list[Batch],
         kind: Literal["refresh", "prefetch"] = "refresh") -> list[BatchResult]:
    from jdcdn_action.sending import send_batches

    total = len(batches)
    name = "batch" if kind == "refresh" else f"{kind} batch"

    def done(result: BatchResult) -> None:
        size = len(result.batch.instances)
        what = f"{name} {result.batch.index}/{total} (" + (
            count(size, "URL") if result.batch.type == "file"
            else count(size, "directory", "directories")) + ")"
        tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        if result.outcome == "succeeded":
            console.info(f"{what}: task {printable(result.task_id)}{tries}")
            if result.warning:
                console.warning(f"{what}: task {printable(result.task_id)}: {result.warning}",
                                title=f"{kind} partly accepted")
        else:
            request = (f" (requestId {printable(result.request_id)})" if result.request_id
                       and result.request_id not in result.error else "")
            console.warning(f"{what} failed{tries}: {result.error}{request}",
                            title=f"{kind} failed")

    return send_batches(api, batches, settings.concurrency, on_done=done, kind=kind)


def follow_up(settings: Settings, console: Console, api: Backend, deadline: Deadline,
              result: RunResult) -> None:
    """Wait for the refresh tasks (prefetch needs them done), warm the cache, wait again.

    One wait-timeout covers all the waiting; result.tasks gets every task's final state.
    """
    from jdcdn_action.prefetch import plan_prefetch, prefetch_notes, warmable
    from jdcdn_action.waiting import wait_for_tasks

    if not result.task_ids:
        return
    deadline.start(settings.wait_timeout)
    # result.tasks holds each task confirmed finished as soon as it is: if the wait is
    # interrupted, every other task is still pending (see ``unconfirmed``).
    result.tasks = wait_for_tasks(api, result.batches, "refresh", deadline,
                                  settings.poll_interval, console, settings.concurrency,
                                  on_final=result.tasks.append)
    if not settings.prefetch:
        return
    urls, left_out = warmable(result)
    for note in prefetch_notes(result, urls, left_out):
        console.info(note)
        result.notes.append(note)
    if not urls:
        return
    batches = plan_prefetch(urls)
    console.info(f"Prefetching {count(len(urls), 'file URL')} in "
                 f"{count(len(batches), 'call')}.")
    from jdcdn_action.sending import Interrupted

    try:
        result.prefetch_batches = send(settings, console, api, batches, kind="prefetch")
    except Interrupted as stop:  # the refresh batches stay as they are
        result.prefetch_batches = stop.results
        raise KeyboardInterrupt from None
    if settings.wait:
        confirmed = list(result.tasks)
        result.tasks = confirmed + wait_for_tasks(
            api, result.prefetch_batches, "prefetch", deadline, settings.poll_interval,
            console, settings.concurrency, on_final=result.tasks.append)


def unconfirmed(result: RunResult) -> list[TaskState]:
    """The accepted tasks that an interrupted wait had not seen finish: pending."""
    known = {t.task_id for t in result.tasks}
    return [TaskState(r.task_id, kind, "unknown", "the run was interrupted while waiting")
            for kind, batches in (("refresh", result.batches),
                                  ("prefetch", result.prefetch_batches))
            for r in batches if r.outcome == "succeeded" and r.task_id not in known]


def finish(settings: Settings, console: Console, result: RunResult) -> int:
    if result.dry_run or not result.batches:
        return 0
    if result.ok:
        pending = len(result.pending_task_ids)
        ids = len(result.task_ids)
        verified = result.verification
        console.info(f"Done: {count(ids, 'call')} accepted, task ID{'s' if ids != 1 else ''} "
                     f"{', '.join(map(printable, result.task_ids))}"
                     + (f"; {pending} task{'s' if pending != 1 else ''} not confirmed finished "
                        "(pending-task-ids)" if pending else "")
                     + (f"; {count(len(verified.fresh), 'URL')} verified fresh on the CDN"
                        if verified else "") + ".")
        return 0
    problems = []
    if result.failed:
        planned = len(result.plan.files) + len(result.plan.dirs)
        problems.append(f"{len(result.failed)} of {count(planned, 'URL')} "
                        f"{'was' if len(result.failed) == 1 else 'were'} not refreshed (see the "
                        "'failed' output and the report)")
    if result.prefetch_failed:
        missed = len(result.prefetch_failed)
        problems.append(f"{count(missed, 'refreshed URL')} "
                        f"{'was' if missed == 1 else 'were'} not prefetched (see "
                        "prefetch_failed in the report)")
    if result.verification and result.stale:
        problems.append(stale_problem(result.verification))
    message = ("; ".join(problems) + ". " + why_failed(result)).strip()
    title = ("jdcdn-action verify failed" if len(problems) == 1 and result.stale
             else "jdcdn-action refresh failed")
    if settings.fail_on_error:
        console.error(message, title=title)
        return 1
    console.warning(message + " (fail-on-error is false)", title=title)
    return 0


def stale_problem(verification: Verification) -> str:
    """How many URLs stayed stale, naming the first and why."""
    stale = [c for c in verification.checks if c.outcome == "stale"]
    checked = len(verification.checks) - len(verification.unchecked)
    return (f"{len(stale)} of {count(checked, 'checked URL')} "
            f"{'was' if len(stale) == 1 else 'were'} still stale when verify-timeout "
            f"({verification.timeout:g}s) ran out (see the 'stale' output), first "
            f"{stale[0].url}: {stale[0].detail}")


def why_failed(result: RunResult) -> str:
    """The cause of the failures, for the final error line: the commonest one, and how
    many of the failed calls it explains when there were several."""
    causes = result.failure_causes().most_common()
    if not causes:
        return ""
    cause, number = causes[0]
    total = sum(n for _, n in causes)
    if len(causes) == 1:
        return f"Cause: {cause}."
    others = len(causes) - 1
    return (f"Commonest cause ({number} of {total} failed calls): {cause}; "
            f"{count(others, 'other cause')} in the log.")


def _plan_sentence(plan: UrlPlan, batch_count: int) -> str:
    return (f"{count(len(plan.files), 'file URL')} and "
            f"{count(len(plan.dirs), 'directory', 'directories')} "
            f"in {count(batch_count, 'call')}")


def _print_plan(console: Console, batches: list[Batch]) -> None:
    for batch in batches:
        console.group(f"batch {batch.index} ({batch.type}, {len(batch.instances)})")
        for url in batch.instances:
            console.info(f"  {url}")
        console.endgroup()
