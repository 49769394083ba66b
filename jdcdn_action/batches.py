"""Batches: URLs split to the API's per-call limits, in a stable order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jdcdn_action.urls import UrlPlan

FILES_PER_CALL = 100
DIRS_PER_CALL = 5


@dataclass(frozen=True, slots=True)
class Batch:
    """One refresh call: ``type`` is the API's ``file`` or ``dir``."""

    index: int
    type: Literal["file", "dir"]
    instances: tuple[str, ...]


def plan_batches(plan: UrlPlan) -> list[Batch]:
    """File batches of at most 100, then directory batches of at most 5, numbered from 1."""
    batches: list[Batch] = []
    for kind, urls, size in (("file", plan.files, FILES_PER_CALL),
                             ("dir", plan.dirs, DIRS_PER_CALL)):
        for start in range(0, len(urls), size):
            batches.append(Batch(len(batches) + 1, kind, tuple(urls[start : start + size])))
    return batches
