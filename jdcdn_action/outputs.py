"""Outputs: the report, GitHub step outputs (``GITHUB_OUTPUT``) and job summary, and GitLab's
dotenv file; every file checked for writing before the first call."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from jdcdn_action.console import printable
from jdcdn_action.exceptions import InputError, JdcdnError
from jdcdn_action.report import build_report, write_report
from jdcdn_action.results import RunResult
from jdcdn_action.summary import render_summary, write_summary

if TYPE_CHECKING:
    from jdcdn_action.console import Console
    from jdcdn_action.redaction import Redactor
    from jdcdn_action.settings import Settings

DOTENV_LIMIT = 5 * 1024  # GitLab refuses larger dotenv reports
OUTPUTS_LIMIT = 1_000_000  # GitHub keeps at most 1 MB of outputs per job


def output_values(result: RunResult, report_file: str) -> dict[str, str]:
    """The step outputs of the contract, as strings."""
    task_ids = result.task_ids
    return {
        "task-ids": output_json(task_ids),
        "task-id": output_id(task_ids[0]) if task_ids else "",
        "urls": output_json(list(result.plan.files), ensure_ascii=False),
        "dirs": output_json(list(result.plan.dirs), ensure_ascii=False),
        "failed": output_json(result.failed, ensure_ascii=False),
        "pending-task-ids": output_json(result.pending_task_ids),
        "prefetch-task-ids": output_json(result.prefetch_task_ids),
        "url-count": str(len(result.plan.files)),
        "dir-count": str(len(result.plan.dirs)),
        "batch-count": str(len(result.batches)),
        "report-file": report_file,
        "stale": json.dumps(result.stale, ensure_ascii=False),
        "verified-count": str(len(result.verification.fresh) if result.verification else 0),
    }


# A later step may paste an output into its script (``run: echo ${{ steps.x.outputs.task-id
# }}``), and the runner reads what that prints for workflow commands: a line whose trimmed
# text starts with "::", or "##[" anywhere.
def output_id(task_id: str) -> str:
    """A task ID as one inert line: control characters as ``\\uXXXX`` (its printed form),
    and the ":" or "[" that would start a workflow command the same way. Ordinary IDs
    are unchanged."""
    text = printable(task_id)
    if text.lstrip().startswith("::"):
        text = text.replace(":", "\\u003a", 1)
    return text.replace("##[", "##\\u005b")


def output_json(value: object, ensure_ascii: bool = True) -> str:
    """JSON for an output; ``##[`` inside a string is written ``##\\u005b``, which decodes
    to the same text but cannot act as a command where a step echoes the JSON."""
    return json.dumps(value, ensure_ascii=ensure_ascii).replace("##[", "##\\u005b")


def format_github_outputs(values: dict[str, str]) -> str:
    """``name<<DELIM`` blocks with a random delimiter, checked against name and value.

    The runner does not check that the delimiter is absent from the value; a value that
    contained it could set other outputs, so this refuses such a value.
    """
    import uuid  # here, not at start-up: only GitHub runs write outputs

    chunks = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        if delimiter in name or delimiter in value:
            raise JdcdnError(f"output {name}: the value contains its delimiter; not written.")
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(chunks)


def write_github_outputs(path: str, values: dict[str, str], secrets: Redactor) -> None:
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(format_github_outputs(secrets.scrub(values)))


# Characters a task ID keeps as-is in a dotenv line: anything else (a comma that would
# split the list, a newline or quote that would start another variable) is %-encoded.
DOTENV_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "-_.:/+=@")


def dotenv_id(task_id: str) -> str:
    """A task ID for ``KEY=value`` lines: ordinary IDs unchanged, others %-encoded UTF-8."""
    if all(ch in DOTENV_SAFE for ch in task_id):
        return task_id
    return "".join(ch if ch in DOTENV_SAFE else "".join(f"%{b:02X}" for b in ch.encode())
                   for ch in task_id)


def dotenv_values(result: RunResult) -> dict[str, str]:
    task_ids = [dotenv_id(task_id) for task_id in result.task_ids]
    values = {
        "JDCDN_TASK_IDS": ",".join(task_ids),
        "JDCDN_TASK_ID": task_ids[0] if task_ids else "",
        "JDCDN_URL_COUNT": str(len(result.plan.files)),
        "JDCDN_DIR_COUNT": str(len(result.plan.dirs)),
        "JDCDN_BATCH_COUNT": str(len(result.batches)),
        "JDCDN_FAILED_COUNT": str(len(result.failed)),
    }
    if result.pending_task_ids:
        values["JDCDN_PENDING_TASK_IDS"] = ",".join(map(dotenv_id, result.pending_task_ids))
    if result.prefetch_task_ids:
        values["JDCDN_PREFETCH_TASK_IDS"] = ",".join(map(dotenv_id, result.prefetch_task_ids))
    if result.verification:
        values["JDCDN_STALE_COUNT"] = str(len(result.verification.stale))
        values["JDCDN_VERIFIED_COUNT"] = str(len(result.verification.fresh))
    return values


def format_dotenv(values: dict[str, str]) -> str:
    """``KEY=value`` lines; values hold no spaces, quotes or newlines (``dotenv_id``)."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_dotenv(path: str, values: dict[str, str], secrets: Redactor) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(secrets.redact(format_dotenv(values)))


def check_result_files(settings: Settings) -> None:
    """Every result file can be written, or exit 2 before anything is sent."""
    for path, what in result_files(settings):
        check_writable(path, what, make_folder=what == "report-file")


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


def write_outputs(settings: Settings, console: Console, result: RunResult) -> None:
    """Report, step outputs, job summary and dotenv: every channel gets the same facts.

    Each renders from the result with every secret already masked (a server's echo in an
    error, a task ID), and masks its text once more as it writes it."""
    env = settings.env
    secrets = console.secrets
    result = secrets.scrub(result)
    try:
        write_report(settings.report_file, build_report(settings, result), secrets)
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
        write_github_outputs(github_output, values, secrets)
    summary_file = env.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        write_summary(summary_file, render_summary(result), secrets)
    if settings.dotenv_file:
        dotenv = dotenv_values(result)
        if len(format_dotenv(dotenv).encode()) > DOTENV_LIMIT:
            console.warning(f"{settings.dotenv_file} is over GitLab's 5 KB dotenv limit, "
                            "which GitLab refuses; the report has every task ID.",
                            title="dotenv too large")
        write_dotenv(settings.dotenv_file, dotenv, secrets)
    console.info(f"Report written to {settings.report_file}.")
