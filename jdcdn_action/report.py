"""The JSON report: settings that matter, every batch, every failure (never a secret)."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import TYPE_CHECKING, Any

from jdcdn_action import __version__
from jdcdn_action.results import BatchResult, QuotaReading, RunResult, Verification
from jdcdn_action.settings import Settings

if TYPE_CHECKING:
    from jdcdn_action.redaction import Redactor


def _batch(result: BatchResult) -> dict[str, Any]:
    return {
        "index": result.batch.index,
        "type": result.batch.type,
        "instances": list(result.batch.instances),
        "task_id": result.task_id or None,
        "attempts": result.attempts,
        "outcome": result.outcome,
        "error": result.error or None,
        "request_id": result.request_id or None,  # what JD's support asks for
        "warning": result.warning or None,
    }


def _quota(reading: QuotaReading | None) -> dict[str, Any] | None:
    """The quota read before sending: the counts, or why there are none."""
    if reading is None:
        return None
    quota = reading.quota
    counts = {kind: {"all": getattr(quota, f"{kind}_all"),
                     "used": getattr(quota, f"{kind}_used"),
                     "remained": getattr(quota, f"{kind}_remained")}
              for kind in ("refresh", "dir", "prefetch")} if quota else None
    return {"read": quota is not None, "counts": counts, "error": reading.error or None,
            "note": reading.note or None}


def _verify(verification: Verification | None) -> dict[str, Any] | None:
    if verification is None:
        return None
    return {
        "timeout": verification.timeout,
        "seconds": verification.seconds,
        "counts": {"fresh": len(verification.fresh), "stale": len(verification.stale),
                   "unchecked": len(verification.unchecked)},
        "urls": [{"url": c.url, "outcome": c.outcome, "local_file": c.local_file or None,
                  "expected_sha256": c.expected_sha256 or None,
                  "expected": "404 or 410" if c.expect_gone else (
                      "the local file" if c.expected_sha256 else None),
                  "last_sha256": c.last_sha256 or None, "last_status": c.last_status,
                  "attempts": c.attempts, "headers": c.headers,
                  "location": c.location or None, "detail": c.detail or None}
                 for c in verification.checks],
    }


def build_report(settings: Settings, result: RunResult) -> dict[str, Any]:
    return {
        "tool": f"jdcdn-action {__version__}",
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dry_run": result.dry_run,
        "ok": result.ok,
        "settings": {
            "api": settings.api,
            "username": settings.username,
            "access_key_id": settings.access_key_id,
            "base_urls": list(settings.base_urls),
            "api_endpoint": settings.api_endpoint,
            "proxy": (proxy.shown if (proxy := settings.network.proxy_for(
                settings.api_endpoint)) else None),  # never its credentials
            "ca_files": [ca_file.path for ca_file in settings.network.ca_files],
            "type": settings.type,
            "source_dir": settings.source_dir,
            "git_diff": settings.git_diff,
            "index_files": list(settings.index_files),
            "include_deleted": settings.include_deleted,
            "dir_threshold": settings.dir_threshold,
            "max_urls": settings.max_urls,
            "max_dirs": settings.max_dirs,
            "signature_timezone": settings.signature_timezone_name,
            "wait": settings.wait,
            "wait_timeout": settings.wait_timeout,
            "poll_interval": settings.poll_interval,
            "prefetch": settings.prefetch,
            "verify": settings.verify,
            "verify_timeout": settings.verify_timeout,
        },
        "counts": {
            "urls": len(result.plan.files),
            "dirs": len(result.plan.dirs),
            "batches": len(result.batches),
            "failed": len(result.failed),
        },
        "task_ids": result.task_ids,
        "batches": [_batch(r) for r in result.batches],
        "tasks": [
            {"task_id": t.task_id, "kind": t.kind, "state": t.state, "detail": t.detail or None,
             "failed_urls": None if t.failed_urls is None else list(t.failed_urls),
             "unconfirmed_urls": list(t.unconfirmed_urls)}
            for t in result.tasks
        ],
        "pending_task_ids": result.pending_task_ids,
        "prefetch_batches": [_batch(r) for r in result.prefetch_batches],
        "prefetch_task_ids": result.prefetch_task_ids,
        "prefetch_failed": result.prefetch_failed,
        # Shaped like a paths-file, so a later run can retry exactly what failed.
        "failed": {"files": result.failed_files, "dirs": result.failed_dirs},
        "notes": result.notes,
        "quota": _quota(result.quota),
        # What the CDN served after the refresh, URL by URL (None: verify off or skipped).
        "verify": _verify(result.verification),
    }


def write_report(path: str, report: dict[str, Any], secrets: Redactor) -> None:
    """Every string masked, then the JSON text too (which escapes some characters)."""
    text = json.dumps(secrets.scrub(report), indent=2, ensure_ascii=False)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(secrets.redact(text) + "\n")
