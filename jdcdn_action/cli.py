"""The command: settings -> entries -> URLs -> batches -> calls -> results -> outputs.

``main`` is the only place where errors become exit codes and one-line messages.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jdcdn_action import budget
from jdcdn_action import entries as entries_mod
from jdcdn_action import settings as settings_mod
from jdcdn_action.console import Console, count, printable
from jdcdn_action.exceptions import BudgetError, InputError, JdcdnError
from jdcdn_action.outputs import (
    DOTENV_LIMIT,
    OUTPUTS_LIMIT,
    dotenv_values,
    format_dotenv,
    output_values,
    write_dotenv,
    write_github_outputs,
)
from jdcdn_action.planning import plan_batches
from jdcdn_action.report import build_report, write_report
from jdcdn_action.results import BatchResult, RunResult, TaskState
from jdcdn_action.settings import Settings
from jdcdn_action.summary import render_summary, summary_cell, write_summary
from jdcdn_action.urls import UrlPlan, map_entries

if TYPE_CHECKING:  # requests and threads are imported only when something is sent
    from jdcdn_action.client import JdApi
    from jdcdn_action.waiting import Deadline


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the command; return the exit code (0 ok, 1 a call failed, 2 bad input)."""
    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else argv
    github = env.get("GITHUB_ACTIONS") == "true"
    debug = "--debug" in argv or env.get("RUNNER_DEBUG") == "1" or env.get(
        "JDCDN_DEBUG", "").strip().lower() in settings_mod.TRUE_WORDS
    console = Console(github=github, debug=debug)
    _interrupt_on_sigterm()
    try:
        _mask_early(console, argv, env)
        settings = settings_mod.load(argv, env)
        console.debug_enabled = settings.debug
        return run(settings, console)
    except JdcdnError as error:
        if console.debug_enabled:
            console.debug(_traceback())
        title = "jdcdn-action bad input" if error.exit_code == 2 else "jdcdn-action"
        console.error(str(error), title=title)
        _summarise_error(env, console.redact(str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        console.error("interrupted before anything was sent", title="jdcdn-action")
        return 130
    except Exception as error:  # a bug: say so plainly, with the traceback when debugging
        console.debug(_traceback())
        console.error(
            f"internal error: {error!r}; rerun with --debug (or RUNNER_DEBUG=1) and report it.",
            title="jdcdn-action internal error",
        )
        return 1


def _traceback() -> str:
    import traceback  # only when debugging: start-up time matters

    return traceback.format_exc()


def _interrupt_on_sigterm() -> None:
    """A cancelled job gets SIGTERM (as PID 1 in a container, Python would otherwise
    ignore it): stop like Ctrl-C, so the results so far are still written."""
    import signal
    import threading

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _summarise_error(env: Mapping[str, str], message: str) -> None:
    """On GitHub, the job summary says why the step failed, like the annotation."""
    summary_file = env.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        with contextlib.suppress(OSError):
            write_summary(summary_file, f"## JD Cloud CDN: not run\n\n{summary_cell(message)}\n")


def _mask_early(console: Console, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Mask the key and its signatures before any setting is validated or anything printed."""
    raw, _, _ = settings_mod.raw_values(argv, env)
    secret = raw["secret-key"]
    if not secret:
        return
    console.mask(secret)
    from jdcdn_action.signing import candidate_signatures

    try:
        tz, _ = settings_mod.parse_timezone(raw["signature-timezone"])
    except InputError:
        tz = settings_mod.parse_timezone("+08:00")[0]
    for signature in candidate_signatures(raw["username"], secret, tz):
        console.mask(signature)


def run(settings: Settings, console: Console) -> int:
    for path, what in result_files(settings):
        check_writable(path, what, make_folder=what == "report-file")
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
        skipped = [name for name in ("wait", "prefetch") if getattr(settings, name)]
        if skipped:
            result.notes.append(f"Dry run: {' and '.join(skipped)} skipped (no task to "
                                "wait for).")
            console.info(result.notes[-1])
    else:
        console.info(f"Refreshing {_plan_sentence(plan, len(batches))} "
                     f"via {settings.api_endpoint}.")
        from jdcdn_action.calls import Interrupted
        from jdcdn_action.waiting import Deadline

        deadline = Deadline()
        api = make_api(settings, console, deadline)
        try:
            result.batches = send(settings, console, api, batches)
            if settings.wait or settings.prefetch:
                follow_up(settings, console, api, deadline, result)
        except KeyboardInterrupt as stop:
            # Keep what was done: accepted batches keep their task IDs, the rest is failed.
            if isinstance(stop, Interrupted):
                result.batches = stop.results
            elif settings.wait or settings.prefetch:
                result.tasks += unconfirmed(result)
            result.notes.append("The run was interrupted while "
                                f"{'sending' if isinstance(stop, Interrupted) else 'waiting'}.")
            write_outputs(settings, console, result)
            console.error(f"interrupted: {count(len(result.failed), 'URL')} not confirmed sent are "
                          "in the 'failed' output and the report.", title="jdcdn-action")
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

        collected += changed_entries(settings, console)
    plan = map_entries(collected, settings.base_urls, settings.type, settings.index_files)
    collapsed = budget.collapse(plan, settings.base_urls, settings.dir_threshold,
                                settings.max_dirs)
    lines = budget.describe(collapsed, settings.dir_threshold)
    for line in lines:
        console.info(line)
    if notes is not None and lines:
        notes.append(lines[0])
    check_budget(collapsed.plan, settings, collapsed)
    return collapsed.plan


def result_files(settings: Settings) -> list[tuple[str, str]]:
    """(path, what) of every file the run writes its results to."""
    env = settings.env
    files = [(settings.report_file, "report-file")]
    files += [(env[name], name) for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
              if env.get(name)]
    if settings.dotenv_file:
        files.append((settings.dotenv_file, "the dotenv file (JDCDN_DOTENV)"))
    return files


def check_writable(path: str, what: str, make_folder: bool = False) -> None:
    """Fail before sending anything if a result file could not be written afterwards: a
    run that cannot record its task IDs must not spend the quota. Opening for append
    changes nothing in an existing file (the runner's own files are appended to)."""
    folder = os.path.dirname(os.path.abspath(path))
    if make_folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise InputError(f"{what}: cannot create the folder of {path!r} "
                             f"({error.strerror}); nothing was sent. Choose another "
                             "path.") from None
    existed = os.path.lexists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:  # leave no empty file behind if the run stops before writing
            os.remove(path)
    except OSError as error:
        raise InputError(f"{what}: {path!r} cannot be written ({error.strerror}), so the "
                         "run's results could not be recorded; nothing was sent. Fix the "
                         "path or its folder's permissions.") from None


def check_budget(plan: UrlPlan, settings: Settings,
                 collapsed: budget.Collapsed | None = None) -> None:
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


def make_api(settings: Settings, console: Console, deadline: Deadline) -> JdApi:
    """One client for the whole run: calls, polls and prefetches share its signing state.

    Its retries sleep through ``deadline``, so once waiting has begun no retry can
    outlast wait-timeout.
    """
    from jdcdn_action.client import JdApi

    return JdApi(
        settings.api_endpoint,
        settings.username,
        settings.secret_key,
        settings.signature_timezone,
        timeout=settings.timeout,
        max_attempts=settings.max_attempts,
        backoff=settings.backoff,
        pool_size=settings.concurrency,
        on_signature=console.mask,
        on_retry=console.info,
        on_debug=console.debug,
        sleep=deadline.sleep,
    )


def send(settings: Settings, console: Console, api: JdApi, batches: list,
         kind: str = "refresh") -> list[BatchResult]:
    from jdcdn_action.calls import PREFETCH_PATH, REFRESH_PATH, prefetch_payload, send_batches

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
        else:
            console.warning(f"{what} failed{tries}: {result.error}", title=f"{kind} failed")

    if kind == "prefetch":
        return send_batches(api, batches, settings.concurrency, on_done=done,
                            path=PREFETCH_PATH, payload=prefetch_payload)
    return send_batches(api, batches, settings.concurrency, on_done=done, path=REFRESH_PATH)


def follow_up(settings: Settings, console: Console, api: JdApi, deadline: Deadline,
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
    from jdcdn_action.calls import Interrupted

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


def write_outputs(settings: Settings, console: Console, result: RunResult) -> None:
    """Report, step outputs, job summary and dotenv: every channel gets the same facts."""
    env = settings.env
    try:
        write_report(settings.report_file, build_report(settings, result))
    except OSError as error:
        # The calls were made already: report it, but not as "nothing was sent".
        raise JdcdnError(f"report-file {settings.report_file}: cannot be written "
                         f"({error.strerror}); the outputs and the log still hold the "
                         "results.") from None
    github_output = env.get("GITHUB_OUTPUT", "")
    if github_output:
        values = output_values(result, settings.report_file)
        if sum(len(v.encode()) for v in values.values()) > OUTPUTS_LIMIT:
            console.warning("the step outputs exceed GitHub's 1 MB per job and may be cut; "
                            f"read the URLs from the report ({settings.report_file}).",
                            title="outputs too large")
        write_github_outputs(github_output, values)
    summary_file = env.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        write_summary(summary_file, render_summary(result))
    if settings.dotenv_file:
        dotenv = dotenv_values(result)
        if len(format_dotenv(dotenv).encode()) > DOTENV_LIMIT:
            console.warning(f"{settings.dotenv_file} is over GitLab's 5 KB dotenv limit, "
                            "which GitLab refuses; the report has every task ID.",
                            title="dotenv too large")
        write_dotenv(settings.dotenv_file, dotenv)
    console.info(f"Report written to {settings.report_file}.")


def finish(settings: Settings, console: Console, result: RunResult) -> int:
    if result.dry_run or not result.batches:
        return 0
    if result.ok:
        pending = len(result.pending_task_ids)
        ids = len(result.task_ids)
        console.info(f"Done: {count(ids, 'call')} accepted, task ID{'s' if ids != 1 else ''} "
                     f"{', '.join(map(printable, result.task_ids))}"
                     + (f"; {pending} task{'s' if pending != 1 else ''} not confirmed finished "
                        "(pending-task-ids)." if pending else "."))
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
    message = "; ".join(problems) + ". " + why_failed(result)
    if settings.fail_on_error:
        console.error(message, title="jdcdn-action refresh failed")
        return 1
    console.warning(message + " (fail-on-error is false)", title="jdcdn-action refresh failed")
    return 0


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




def _print_plan(console: Console, batches: list) -> None:
    for batch in batches:
        console.group(f"batch {batch.index} ({batch.type}, {len(batch.instances)})")
        for url in batch.instances:
            console.info(f"  {url}")
        console.endgroup()
