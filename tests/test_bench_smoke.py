"""The benchmark script keeps working: a smoke run with tiny sizes (numbers not judged)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_run(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke",
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [row["paths"] for row in results["planning"]] == [100, 1000]
    assert {row["concurrency"] for row in results["calls"]} == {1, 4}
    assert {row["api"] for row in results["calls_openapi"]} == {"openapi"}
    assert [(row["urls"], row["concurrency"]) for row in results["verify"]] == [(40, 4)]
    assert all(row["us_per_call"] > 0 for row in results["signing"])
    assert all(row["seconds"] > 0 for row in results["startup"])
    assert "Planning" in proc.stdout and "Start-up" in proc.stdout
