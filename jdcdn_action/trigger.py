"""What the CI says happened: the push, pull request, merge queue or pipeline that started
the run, read from GitHub's event file or GitLab's variables into a ``Trigger``.

Every commit ID is checked here, so nothing but 40 or 64 hex digits from an event ever
reaches a git command line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from jdcdn_action.entries import show
from jdcdn_action.exceptions import InputError
from jdcdn_action.git import SHA_RE


@dataclass(frozen=True)
class Trigger:
    """What the CI says happened. Commit IDs are validated hex; zeros mean "none"."""

    kind: str  # push, pull_request, merge_group, merge_request, other, local
    label: str
    base: str = ""
    head: str = ""
    forced: bool | None = None
    branch: str = ""
    default_branch: str = ""
    tag: bool = False
    deleted: bool = False
    zero_means: str = "a new branch"


def commit_id(value: object, where: str) -> str:
    """A commit ID from an event or a CI variable: 40 or 64 hex digits, or ""."""
    if value is None or value == "":
        return ""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not SHA_RE.match(text):
        raise InputError(f"git-diff: {where} is {show(str(value))}, not a commit ID; check "
                         "the event, or set git-base and git-head.")
    return text


def is_zero(sha: str) -> bool:
    return not sha or set(sha) == {"0"}


def read_trigger(env: Mapping[str, str]) -> Trigger:
    if env.get("GITHUB_EVENT_NAME"):
        return github_trigger(env)
    if env.get("GITLAB_CI", "").lower() == "true":
        return gitlab_trigger(env)
    return Trigger("local", "no CI event")


def _event_payload(env: Mapping[str, str]) -> dict:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        why = error.strerror if isinstance(error, OSError) else "not JSON"
        raise InputError(f"git-diff: the event file GITHUB_EVENT_PATH={show(path)} cannot "
                         f"be read ({why}); set git-base and git-head instead.") from None
    return data if isinstance(data, dict) else {}


def _get(data: object, *keys: str) -> object:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def github_trigger(env: Mapping[str, str]) -> Trigger:
    name = env.get("GITHUB_EVENT_NAME", "")
    event = _event_payload(env)
    where = "GITHUB_EVENT_PATH"
    default = _get(event, "repository", "default_branch")
    default = default if isinstance(default, str) else ""
    if name == "push":
        ref = str(event.get("ref") or env.get("GITHUB_REF", ""))
        head = commit_id(event.get("after"), f"{where} after") or commit_id(
            env.get("GITHUB_SHA"), "GITHUB_SHA")
        forced = event.get("forced")
        return Trigger(
            "push", "GitHub push",
            base=commit_id(event.get("before"), f"{where} before"),
            head=head,
            forced=forced if isinstance(forced, bool) else None,
            branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "",
            default_branch=default,
            tag=ref.startswith("refs/tags/"),
            deleted=bool(event.get("deleted")) or (bool(head) and is_zero(head)),
        )
    if name in ("pull_request", "pull_request_target"):
        return Trigger(
            "pull_request", f"GitHub {name}",
            base=commit_id(_get(event, "pull_request", "base", "sha"),
                           f"{where} pull_request.base.sha"),
            head=commit_id(_get(event, "pull_request", "head", "sha"),
                           f"{where} pull_request.head.sha"),
            default_branch=default,
        )
    if name == "merge_group":
        return Trigger(
            "merge_group", "GitHub merge_group",
            base=commit_id(_get(event, "merge_group", "base_sha"),
                           f"{where} merge_group.base_sha"),
            head=commit_id(_get(event, "merge_group", "head_sha"),
                           f"{where} merge_group.head_sha"),
            default_branch=default,
        )
    return Trigger("other", f"GitHub {name} event", default_branch=default)


def gitlab_trigger(env: Mapping[str, str]) -> Trigger:
    head = commit_id(env.get("CI_COMMIT_SHA"), "CI_COMMIT_SHA")
    diff_base = commit_id(env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
                          "CI_MERGE_REQUEST_DIFF_BASE_SHA")
    default = env.get("CI_DEFAULT_BRANCH", "")
    if diff_base:
        return Trigger("merge_request", "GitLab merge request pipeline", base=diff_base,
                       head=head, default_branch=default)
    tag = bool(env.get("CI_COMMIT_TAG"))
    return Trigger(
        "push", "GitLab pipeline",
        base=commit_id(env.get("CI_COMMIT_BEFORE_SHA"), "CI_COMMIT_BEFORE_SHA"),
        head=head,
        branch=env.get("CI_COMMIT_BRANCH", ""),
        default_branch=default,
        tag=tag,
        zero_means="a new branch, or a pipeline that no push started",
    )
