"""Faults, table-driven, against the fake JD server on 127.0.0.1.

For each: the exit code; every planned URL under exactly one task ID or in `failed`; the
report and the outputs agree; how many calls were made (at most `max-attempts` per batch,
nothing more after a final signature failure); and a wall-time bound from the settings.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from tests.fake_jd import Fault
from tests.helpers import ROOT, parse_github_output, site_files, unused_port

ATTEMPTS = 3
TIMEOUT = 0.5
BACKOFF = 0.01
SLACK = 3.0  # seconds for process work on a busy machine; the bound is about hangs


def dates_differ() -> bool:
    now = dt.datetime.now(dt.UTC)
    return now.astimezone(dt.timezone(dt.timedelta(hours=8))).date() != now.date()


def check_accounting(run, fake_jd, exact: bool = True) -> tuple[list[str], list[str]]:
    """Every planned URL is in exactly one successful batch or in `failed`.

    ``exact``: the server accepted exactly the successful batches. A call that timed out
    may still have been accepted late; it is reported failed, which is the safe side.
    """
    report = run.report
    planned = run.json_output("urls") + run.json_output("dirs")
    succeeded = [u for b in report["batches"] if b["outcome"] == "succeeded"
                 for u in b["instances"]]
    failed = run.json_output("failed")
    assert failed == report["failed"]["files"] + report["failed"]["dirs"]
    assert sorted(succeeded + failed) == sorted(planned)  # exactly once each
    if exact:
        assert set(succeeded) == fake_jd.refreshed()
    else:
        assert set(succeeded) <= fake_jd.refreshed()
    assert run.json_output("task-ids") == report["task_ids"] == [
        b["task_id"] for b in report["batches"] if b["outcome"] == "succeeded"]
    assert run.outputs["batch-count"] == str(len(report["batches"]))
    for batch in report["batches"]:
        assert 0 <= batch["attempts"] <= ATTEMPTS + 1  # +1: the status-7 switch to UTC
        assert (batch["task_id"] is None) == (batch["outcome"] == "failed")
    return succeeded, failed


def run_with(run_cli, jd_env, paths: str, **extra: str):
    env = jd_env | {"JDCDN_PATHS": paths, "JDCDN_MAX_ATTEMPTS": str(ATTEMPTS),
                    "JDCDN_TIMEOUT": str(TIMEOUT), "JDCDN_BACKOFF": str(BACKOFF),
                    "JDCDN_MAX_URLS": "0"} | extra
    start = time.monotonic()
    run = run_cli(env=env, github=True)
    return run, time.monotonic() - start


def bound(requests: int, waits: float = 0.0) -> float:
    """Each request at most the timeout, each retry at most its backoff ceiling."""
    backoffs = sum(BACKOFF * 2 ** n for n in range(ATTEMPTS - 1))
    return requests * TIMEOUT + backoffs + waits + SLACK


def http(code: int, n: int = 1, **headers: str) -> list[Fault]:
    return [Fault("http", code=code, headers=headers)] * n


# id, faults for the single call, exit code, requests made, waiting asked by the server
SINGLE = [
    ("500-burst-shorter", http(500, 2), 0, 3, 0),
    ("502-burst-equal", http(502, 3), 1, 3, 0),
    ("503-burst-longer", http(503, 6), 1, 3, 0),
    ("429-retry-after", http(429, 1, **{"Retry-After": "1"}), 0, 2, 1),
    ("429-no-retry-after", http(429, 1), 0, 2, 0),
    ("read-timeout-once", [Fault("sleep", seconds=1.0)], 0, 2, 0),
    ("read-timeout-always", [Fault("sleep", seconds=1.0)] * 3, 1, 3, 0),
    ("reset-once", [Fault("reset")], 0, 2, 0),
    ("reset-always", [Fault("reset")] * 3, 1, 3, 0),
    ("html-200", [Fault("html")], 0, 2, 0),
    ("jd-minus-1", [Fault("jd", status=-1)], 0, 2, 0),
    ("jd-8-always", [Fault("jd", status=8)] * 3, 1, 3, 0),
    *[(f"jd-{s}-permanent", [Fault("jd", status=s)], 1, 1, 0)
      for s in (1, 2, 9, 15, 17, 46, 47)],
    ("http-400", http(400), 1, 1, 0),
    ("jd-7", [Fault("jd", status=7)], 1, 2 if dates_differ() else 1, 0),
]


@pytest.mark.parametrize("faults, code, requests, waits", [c[1:] for c in SINGLE],
                         ids=[c[0] for c in SINGLE])
def test_single_call_faults(run_cli, fake_jd, jd_env, faults, code, requests, waits):
    fake_jd.script("/api/refresh", *faults)
    run, wall = run_with(run_cli, jd_env, "a.css\nb.css")
    assert run.code == code, run.log
    assert len(fake_jd.requests()) == requests
    late = any(f.kind == "sleep" for f in faults)
    succeeded, failed = check_accounting(run, fake_jd, exact=not late)
    assert len(succeeded) == (0 if code else 2) and len(failed) == (2 if code else 0)
    assert run.report["batches"][0]["attempts"] == requests
    assert wall < bound(requests, waits)
    if waits:
        assert wall >= waits * 0.9  # Retry-After was honoured, not ignored
    if code:
        assert run.report["batches"][0]["error"]
        assert "::error title=jdcdn-action refresh failed::" in run.stdout


def test_connection_refused(run_cli, jd_env):
    port = unused_port()
    run, wall = run_with(run_cli, jd_env | {"JDCDN_API_ENDPOINT": f"http://127.0.0.1:{port}"},
                         "a.css")
    assert run.code == 1
    assert run.json_output("failed") == ["https://www.example.com/a.css"]
    assert run.report["batches"][0]["attempts"] == ATTEMPTS
    # host:port: the endpoint's, not a proxy's
    assert f"127.0.0.1:{port} refused the connection" in run.report["batches"][0]["error"]
    assert wall < bound(ATTEMPTS)


def failing_batch(fake_jd, url: str, answer: dict) -> None:
    """Make every call that holds ``url`` get ``answer`` (JD status, or an HTTP fault)."""
    original = fake_jd.answer

    def scripted(path, body):
        if isinstance(body, dict) and url in body.get("instances", []):
            return answer
        return original(path, body)

    fake_jd.answer = scripted


@pytest.mark.parametrize("status, requests", [(18, 30), (8, 29 + ATTEMPTS)],
                         ids=["permanent", "transient"])
def test_failure_in_the_middle_of_30_batches(run_cli, fake_jd, jd_env, status, requests):
    """One batch of 30 fails (sent 4 at a time): only its 100 URLs are in `failed`; a
    permanent failure is not retried, a transient one exactly up to max-attempts."""
    failing_batch(fake_jd, "https://www.example.com/assets/file-1550.js",
                  {"status": status, "msg": "scripted"})
    run, wall = run_with(run_cli, jd_env, site_files(3000), JDCDN_CONCURRENCY="4")
    assert run.code == 1
    succeeded, failed = check_accounting(run, fake_jd)
    assert len(failed) == 100 and len(succeeded) == 2900
    assert "https://www.example.com/assets/file-1550.js" in failed
    assert len(fake_jd.requests()) == requests
    assert wall < bound(requests)


def test_wrong_key_with_concurrency_stops_every_later_call(run_cli, fake_jd, jd_env):
    run, wall = run_with(run_cli, jd_env | {"JDCDN_SECRET_KEY": "not-the-key"},
                         site_files(3000), JDCDN_CONCURRENCY="4")
    assert run.code == 1
    succeeded, failed = check_accounting(run, fake_jd)
    assert not succeeded and len(failed) == 3000
    # At most the calls already in flight, each with its one switch to the UTC date.
    assert len(fake_jd.requests()) <= 4 * 2
    assert "JD status 7" in run.stdout
    assert wall < bound(8)


def test_server_dying_mid_run(run_cli, fake_jd, jd_env):
    fake_jd.die_after = 10
    run, wall = run_with(run_cli, jd_env, site_files(3000), JDCDN_CONCURRENCY="4")
    assert run.code == 1
    succeeded, failed = check_accounting(run, fake_jd)
    assert len(succeeded) == 1000 and len(failed) == 2000
    assert all(b["attempts"] == ATTEMPTS for b in run.report["batches"]
               if b["outcome"] == "failed")
    assert wall < bound(10 + 20 * ATTEMPTS)


def test_report_and_outputs_agree_on_partial_failure(run_cli, fake_jd, jd_env):
    failing_batch(fake_jd, "https://www.example.com/assets/file-0000.js",
                  {"status": 15, "msg": "domain"})
    run, _ = run_with(run_cli, jd_env, site_files(250) + "\nstatic/\n")
    report = run.report
    assert report["counts"] == {"urls": 250, "dirs": 1, "batches": 4, "failed": 100}
    assert json.loads(run.outputs["failed"]) == report["failed"]["files"]
    assert run.outputs["task-id"] == report["task_ids"][0]
    assert report["ok"] is False


def test_cancelled_run_writes_what_it_did(run_cli, fake_jd, jd_env, tmp_path):
    """SIGTERM (a cancelled job) mid-send: accepted batches keep their task IDs, every other
    URL is in `failed`, the report is written, and no batch starts after the signal."""
    import os
    import signal
    import subprocess
    import sys

    fake_jd.latency = 0.1
    output = tmp_path / "output"
    output.write_text("")
    report = tmp_path / "report.json"
    env = {**jd_env, "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
           "JDCDN_PATHS": site_files(3000), "JDCDN_MAX_URLS": "0", "JDCDN_CONCURRENCY": "1",
           "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
           "JDCDN_REPORT_FILE": str(report)}
    proc = subprocess.Popen([sys.executable, "-m", "jdcdn_action"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while len(fake_jd.accepted()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    seen = len(fake_jd.requests())
    assert proc.returncode == 130, stdout
    assert 2 <= seen < 30
    data = json.loads(report.read_text())
    outputs = parse_github_output(output.read_text())
    succeeded = [u for b in data["batches"] if b["outcome"] == "succeeded"
                 for u in b["instances"]]
    failed = json.loads(outputs["failed"])
    assert sorted(succeeded + failed) == sorted(json.loads(outputs["urls"]))
    assert set(succeeded) <= fake_jd.refreshed()
    assert len(failed) >= 3000 - seen * 100
    assert "interrupted" in stdout
