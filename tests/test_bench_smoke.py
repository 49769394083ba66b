"""The benchmark script keeps working: a smoke run with tiny sizes (numbers not judged).

It runs with an environment the test sets: a plain shell's, and a GitHub runner's (where
GITHUB_ACTIONS turns the command's errors into annotations on stdout and GITHUB_OUTPUT
would receive its outputs), so that neither where the suite runs nor what the script's
commands would make of it changes the result.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.parametrize("runner", ["shell", "github"])
def test_benchmark_smoke_run(tmp_path, runner):
    out = tmp_path / "bench.json"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    if runner == "github":
        for name in ("output", "summary.md", "env"):
            (tmp_path / name).write_text("")
        env |= {"CI": "true", "GITHUB_ACTIONS": "true",
                "GITHUB_OUTPUT": str(tmp_path / "output"),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
                "GITHUB_ENV": str(tmp_path / "env"), "RUNNER_TEMP": str(tmp_path),
                "INPUT_MAX-URLS": "0", "JDCDN_DRY_RUN": "false"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke",
                           "--json", str(out)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [row["paths"] for row in results["planning"]] == [100, 1000]
    assert [row["paths"] for row in results["paths_file"]] == [3000]
    assert {row["concurrency"] for row in results["calls"]} == {1, 4}
    assert {row["api"] for row in results["calls_openapi"]} == {"openapi"}
    assert [(row["urls"], row["concurrency"]) for row in results["verify"]] == [(40, 4)]
    assert all(row["us_per_call"] > 0 for row in results["signing"])
    assert all(row["seconds"] > 0 for row in results["startup"])
    assert [row["files"] for row in results["git_diff"]] == [50]
    assert "Planning" in proc.stdout and "Start-up" in proc.stdout
    if runner == "github":  # the runner's files were left alone
        assert all((tmp_path / name).read_text() == ""
                   for name in ("output", "summary.md", "env"))
