"""Outputs: GitHub step outputs (``GITHUB_OUTPUT``) and GitLab's dotenv report."""

from __future__ import annotations

import json

from jdcdn_action.exceptions import JdcdnError
from jdcdn_action.results import RunResult

DOTENV_LIMIT = 5 * 1024  # GitLab refuses larger dotenv reports
OUTPUTS_LIMIT = 1_000_000  # GitHub keeps at most 1 MB of outputs per job


def output_values(result: RunResult, report_file: str) -> dict[str, str]:
    """The step outputs of the contract, as strings."""
    task_ids = result.task_ids
    return {
        "task-ids": json.dumps(task_ids),
        "task-id": task_ids[0] if task_ids else "",
        "urls": json.dumps(list(result.plan.files), ensure_ascii=False),
        "dirs": json.dumps(list(result.plan.dirs), ensure_ascii=False),
        "failed": json.dumps(result.failed, ensure_ascii=False),
        "pending-task-ids": json.dumps(result.pending_task_ids),
        "prefetch-task-ids": json.dumps(result.prefetch_task_ids),
        "url-count": str(len(result.plan.files)),
        "dir-count": str(len(result.plan.dirs)),
        "batch-count": str(len(result.batches)),
        "report-file": report_file,
    }


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


def write_github_outputs(path: str, values: dict[str, str]) -> None:
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(format_github_outputs(values))


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
    return values


def format_dotenv(values: dict[str, str]) -> str:
    """``KEY=value`` lines; values hold no spaces, quotes or newlines (``dotenv_id``)."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_dotenv(path: str, values: dict[str, str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(format_dotenv(values))
