"""The job summary (``GITHUB_STEP_SUMMARY``): Markdown, kept under GitHub's 1 MiB."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jdcdn_action.console import count, printable
from jdcdn_action.quota import describe as describe_quota
from jdcdn_action.results import BatchResult, RunResult

if TYPE_CHECKING:
    from jdcdn_action.redaction import Redactor

SUMMARY_LIMIT = 1024 * 1024
URL_BUDGET = 700 * 1024  # room left for the URL lists after the tables


def _code(text: str) -> str:
    # URLs are percent-encoded; task IDs may hold anything, so nothing can end the code
    # span or the table cell early.
    return "`" + summary_cell(printable(text).replace("`", "'")) + "`"


def render_summary(result: RunResult) -> str:
    plan = result.plan
    if result.dry_run:
        headline = "Dry run: nothing was sent"
    elif not result.batches:
        headline = "Nothing to refresh"
    elif result.stale and not result.failed and not result.prefetch_failed:
        headline = (f"{count(len(result.stale), 'URL')} still stale on the CDN after "
                    "the refresh")
    elif result.ok and result.pending_task_ids:
        pending = len(result.pending_task_ids)
        headline = f"Refresh submitted, {pending} task{'s' if pending != 1 else ''} still running"
    elif result.ok and result.tasks:
        headline = "Refresh finished" + (", cache warmed" if result.prefetch_batches else "")
    elif result.ok:
        headline = "Refresh submitted"
    elif not result.failed:
        headline = f"Prefetch failed for {count(len(result.prefetch_failed), 'URL')}"
    else:
        headline = f"Refresh failed for {len(result.failed)} of " \
                   f"{count(len(plan.files) + len(plan.dirs), 'URL')}"
    lines = [
        f"## JD Cloud CDN: {headline}",
        "",
        f"{count(len(plan.files), 'file URL')} and "
        f"{count(len(plan.dirs), 'directory', 'directories')} in "
        f"{count(len(result.batches), 'call')}.",
        "",
    ]
    states = {t.task_id: t.state for t in result.tasks}
    if result.batches:
        lines += ["| # | type | URLs | task ID | outcome | attempts |",
                  "|---|---|---|---|---|---|"]
        for r in result.batches:
            lines.append(f"| {r.batch.index} | {r.batch.type} | {len(r.batch.instances)} | "
                         f"{_task_cells(r, states)}")
        lines.append("")
    if result.prefetch_batches:
        lines += ["Prefetch:", "", "| # | URLs | task ID | outcome | attempts |",
                  "|---|---|---|---|---|"]
        for r in result.prefetch_batches:
            lines.append(f"| {r.batch.index} | {len(r.batch.instances)} | "
                         f"{_task_cells(r, states)}")
        lines.append("")
    if result.pending_task_ids:
        lines += ["Still running when wait-timeout ran out (or not confirmed): "
                  + ", ".join(_code(t) for t in result.pending_task_ids), ""]
    notes = list(result.notes)
    if result.quota and result.quota.quota:
        notes.insert(0, describe_quota(result.quota.quota, prefetch=bool(
            result.prefetch_batches)) + " (read before sending).")
    elif result.quota:
        notes.insert(0, "JD's quota: " + (f"not read ({result.quota.error})"
                                         if result.quota.error else result.quota.note) + ".")
    for note in notes:
        lines.append(f"> {summary_cell(note)}")
    if notes:
        lines.append("")
    verification = result.verification
    if verification:
        lines += [f"Verify (fetched from the CDN, {verification.seconds:g}s of "
                  f"verify-timeout {verification.timeout:g}s):", "",
                  "| fresh | stale | unchecked |", "|---|---|---|",
                  f"| {len(verification.fresh)} | {len(verification.stale)} | "
                  f"{len(verification.unchecked)} |", ""]
    budget = URL_BUDGET
    stale = [c for c in verification.checks if c.outcome == "stale"] if verification else []
    if stale:
        lines += [f"Stale ({len(stale)}):", ""]
        for shown, check in enumerate(stale):
            line = f"- {_code(check.url)}: {summary_cell(check.detail)}"
            budget -= len(line) + 1
            if budget < 0:
                lines.append(f"- ... and {len(stale) - shown} more (see the JSON report)")
                break
            lines.append(line)
        lines.append("")
    for title, urls in (("Failed", result.failed), ("Files", plan.files),
                        ("Directories", plan.dirs)):
        if not urls:
            continue
        lines += [f"<details><summary>{title} ({len(urls)})</summary>", ""]
        shown = 0
        for url in urls:
            budget -= len(url) + 6
            if budget < 0:
                break
            lines.append(f"- {_code(url)}")
            shown += 1
        if shown < len(urls):
            lines.append(f"- ... and {len(urls) - shown} more (see the JSON report)")
        lines += ["", "</details>", ""]
    text = "\n".join(lines) + "\n"
    return text if len(text.encode()) < SUMMARY_LIMIT else text[: SUMMARY_LIMIT // 4]


def _task_cells(result: BatchResult, states: dict[str, str]) -> str:
    """The task ID, outcome and attempts cells of a batch's table row."""
    outcome = result.outcome
    if result.task_id in states:
        outcome += f", task {states[result.task_id]}"
    if result.error:
        outcome += f": {summary_cell(result.error)}"
    task = _code(result.task_id) if result.task_id else ""
    return f"{task} | {outcome} | {result.attempts} |"


def summary_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def write_summary(path: str, text: str, secrets: Redactor) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(secrets.redact(text))
