"""The command: settings -> entries -> URLs -> batches -> calls -> results -> outputs.

``main`` is the only place where errors become exit codes and one-line messages.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Mapping, Sequence

from jdcdn_action import entries as entries_mod
from jdcdn_action import settings as settings_mod
from jdcdn_action.console import Console
from jdcdn_action.exceptions import BudgetError, InputError, JdcdnError
from jdcdn_action.outputs import (
    dotenv_values,
    output_values,
    write_dotenv,
    write_github_outputs,
)
from jdcdn_action.planning import plan_batches
from jdcdn_action.report import build_report, write_report
from jdcdn_action.results import BatchResult, RunResult
from jdcdn_action.settings import Settings
from jdcdn_action.summary import render_summary, summary_cell, write_summary
from jdcdn_action.urls import UrlPlan, map_entries

NOT_SUPPORTED_YET = ("wait", "prefetch")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the command; return the exit code (0 ok, 1 a call failed, 2 bad input)."""
    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else argv
    github = env.get("GITHUB_ACTIONS") == "true"
    debug = "--debug" in argv or env.get("RUNNER_DEBUG") == "1" or env.get(
        "JDCDN_DEBUG", "").strip().lower() in settings_mod.TRUE_WORDS
    console = Console(github=github, debug=debug)
    try:
        _mask_early(console, argv, env)
        settings = settings_mod.load(argv, env)
        console.debug_enabled = settings.debug
        return run(settings, console)
    except JdcdnError as error:
        if console.debug_enabled:
            console.debug(traceback.format_exc())
        title = "jdcdn-action bad input" if error.exit_code == 2 else "jdcdn-action"
        console.error(str(error), title=title)
        _summarise_error(env, console.redact(str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        console.error("interrupted", title="jdcdn-action")
        return 130
    except Exception as error:  # a bug: say so plainly, with the traceback when debugging
        console.debug(traceback.format_exc())
        console.error(
            f"internal error: {error!r}; rerun with --debug (or RUNNER_DEBUG=1) and report it.",
            title="jdcdn-action internal error",
        )
        return 1


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
    for name in NOT_SUPPORTED_YET:
        if getattr(settings, name):
            raise InputError(f"{name}: not supported yet in this version; set {name}: false.")

    check_writable(settings.report_file, "report-file")
    plan = build_plan(settings, console)
    batches = plan_batches(plan)
    result = RunResult(plan=plan, batches=[], dry_run=settings.dry_run)

    if plan.empty:
        console.info("Nothing to refresh: no entries were given or found.")
    elif settings.dry_run:
        console.info(f"Dry run: {_plan_sentence(plan, len(batches))}; nothing is sent.")
        _print_plan(console, batches)
        result.batches = [BatchResult(b, "planned") for b in batches]
    else:
        console.info(f"Refreshing {_plan_sentence(plan, len(batches))} "
                     f"via {settings.api_endpoint}.")
        result.batches = send(settings, console, batches)

    write_outputs(settings, console, result)
    return finish(settings, console, result)


def build_plan(settings: Settings, console: Console) -> UrlPlan:
    """Collect every entry and map it to URLs; check the budget before anything is sent."""
    collected = entries_mod.collect(settings.paths, settings.paths_file, settings.arguments)
    if settings.git_diff:
        from jdcdn_action.changes import changed_entries

        collected += changed_entries(settings, console)
    plan = map_entries(collected, settings.base_urls, settings.type, settings.index_files)
    check_budget(plan, settings)
    return plan


def check_writable(path: str, setting: str) -> None:
    """Fail before sending anything if a result file could not be written afterwards."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise InputError(f"{setting}: cannot create the folder of {path!r} "
                         f"({error.strerror}); choose another path.") from None
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        raise InputError(f"{setting}: {path!r} is not writable; choose another path.")


def check_budget(plan: UrlPlan, settings: Settings) -> None:
    if settings.max_urls and len(plan.files) > settings.max_urls:
        raise BudgetError(
            f"max-urls: the plan has {len(plan.files)} file URLs, over the limit of "
            f"{settings.max_urls} (JD's daily quota is 2000); narrow paths/include, "
            "raise max-urls, or set dir-threshold to refresh whole folders."
        )
    if settings.max_dirs and len(plan.dirs) > settings.max_dirs:
        raise BudgetError(
            f"max-dirs: the plan has {len(plan.dirs)} directories, over the limit of "
            f"{settings.max_dirs} (JD's daily quota is 50); list fewer directories or "
            "raise max-dirs."
        )


def send(settings: Settings, console: Console, batches: list) -> list[BatchResult]:
    from jdcdn_action.calls import send_batches
    from jdcdn_action.client import JdApi

    total = len(batches)

    def done(result: BatchResult) -> None:
        what = f"batch {result.batch.index}/{total} ({len(result.batch.instances)} " \
               f"{'URLs' if result.batch.type == 'file' else 'directories'})"
        tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        if result.outcome == "succeeded":
            console.info(f"{what}: task {result.task_id}{tries}")
        else:
            console.warning(f"{what} failed{tries}: {result.error}", title="refresh failed")

    api = JdApi(
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
    )
    try:
        return send_batches(api, batches, settings.concurrency, on_done=done)
    finally:
        api.close()


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
        write_github_outputs(github_output, output_values(result, settings.report_file))
    summary_file = env.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        write_summary(summary_file, render_summary(result))
    if settings.dotenv_file:
        write_dotenv(settings.dotenv_file, dotenv_values(result))
    console.info(f"Report written to {settings.report_file}.")


def finish(settings: Settings, console: Console, result: RunResult) -> int:
    if result.dry_run or not result.batches:
        return 0
    if result.ok:
        console.info(f"Done: {len(result.task_ids)} calls accepted, "
                     f"task IDs {', '.join(result.task_ids)}.")
        return 0
    message = (f"{len(result.failed)} of {len(result.plan.files) + len(result.plan.dirs)} URLs "
               f"were not refreshed; they are listed in the 'failed' output and the report.")
    if settings.fail_on_error:
        console.error(message, title="jdcdn-action refresh failed")
        return 1
    console.warning(message + " (fail-on-error is false)", title="jdcdn-action refresh failed")
    return 0


def _plan_sentence(plan: UrlPlan, batch_count: int) -> str:
    return (f"{len(plan.files)} file URLs and {len(plan.dirs)} directories "
            f"in {batch_count} call{'s' if batch_count != 1 else ''}")


def _print_plan(console: Console, batches: list) -> None:
    for batch in batches:
        console.group(f"batch {batch.index} ({batch.type}, {len(batch.instances)})")
        for url in batch.instances:
            console.info(f"  {url}")
        console.endgroup()
