"""Benchmarks: planning, concurrent calls, start-up, and git-diff listing.

    python bench/run.py            # full sizes; prints a table, writes bench/results.json
    python bench/run.py --smoke    # tiny sizes, seconds; what CI runs to keep this working

Everything runs on this machine: the calls go to the tests' fake JD server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAN_SCRIPT = r"""
import json, resource, sys, time
n = int(sys.argv[1])
text = "\n".join(f"assets/dir{i % 997}/file-{i}.js" for i in range(n))
start = time.perf_counter()
from jdcdn_action.entries import parse_paths
from jdcdn_action.planning import plan_batches
from jdcdn_action.settings import parse_base_url
from jdcdn_action.urls import map_entries
entries = parse_paths(text)
plan = map_entries(entries, (parse_base_url("https://www.example.com/static/"),))
batches = plan_batches(plan)
seconds = time.perf_counter() - start
assert len(plan.files) == n and len(batches) == -(-n // 100)
print(json.dumps({"seconds": seconds,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_planning(sizes: list[int]) -> list[dict]:
    """Entries text -> URLs -> batches, in a fresh process per size (peak RSS is per run)."""
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-c", PLAN_SCRIPT, str(n)], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=600)
        result = json.loads(out.stdout)
        rows.append({"paths": n, "seconds": round(result["seconds"], 4),
                     "us_per_path": round(result["seconds"] / n * 1e6, 2),
                     "peak_mib": round(result["peak_mib"], 1)})
    return rows


def bench_calls(urls: int, latencies: list[float], concurrencies: list[int]) -> list[dict]:
    """Wall time of the sending stage against the fake server, next to the floor."""
    import datetime as dt

    from jdcdn_action.calls import send_batches
    from jdcdn_action.client import JdApi
    from jdcdn_action.planning import plan_batches
    from jdcdn_action.urls import UrlPlan
    from tests.fake_jd import FakeJd

    plan = UrlPlan(files=tuple(f"https://www.example.com/f{i:05d}.js" for i in range(urls)),
                   dirs=())
    batches = plan_batches(plan)
    rows = []
    for latency in latencies:
        for concurrency in concurrencies:
            with FakeJd(latency=latency) as fake:
                api = JdApi(fake.endpoint, fake.username, fake.secret,
                            dt.timezone(dt.timedelta(hours=8)),
                            pool_size=concurrency, max_attempts=1)
                start = time.perf_counter()
                results = send_batches(api, batches, concurrency)
                wall = time.perf_counter() - start
                api.close()
                assert all(r.outcome == "succeeded" for r in results)
            floor = math.ceil(len(batches) / concurrency) * latency
            rows.append({"urls": urls, "calls": len(batches), "latency_ms": latency * 1000,
                         "concurrency": concurrency, "seconds": round(wall, 3),
                         "floor_seconds": round(floor, 3),
                         "over_floor_pct": round((wall / floor - 1) * 100, 1)})
    return rows


def _median_run(argv: list[str], repeat: int, cwd: str) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(repeat: int) -> list[dict]:
    """Process start to exit, median of ``repeat`` runs."""
    work = tempfile.mkdtemp(prefix="jdcdn-bench-")
    env_py = [sys.executable]
    paths = [f"p{i}.html" for i in range(10)]
    cases = [
        ("python3 -c pass", [*env_py, "-c", "pass"]),
        ("jdcdn-refresh --version", [*env_py, "-m", "jdcdn_action", "--version"]),
        ("jdcdn-refresh --dry-run (10 paths)",
         [*env_py, "-m", "jdcdn_action", "--dry-run", "--base-url",
          "https://www.example.com/", *paths]),
    ]
    os.environ["PYTHONPATH"] = str(ROOT)
    try:
        rows = [{"command": name, "seconds": round(_median_run(argv, repeat, work), 4)}
                for name, argv in cases]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0]["seconds"]
    for row in rows:
        row["x_bare_python"] = round(row["seconds"] / base, 2)
    return rows


def bench_paths_file(paths: int) -> list[dict]:
    """A large paths-file (one '- path' line each) until "over max-urls": the whole
    command, as a user would run it, median of 3."""
    work = tempfile.mkdtemp(prefix="jdcdn-bench-")
    try:
        path = Path(work, "paths.yml")
        with open(path, "w", encoding="utf-8") as handle:
            for i in range(paths):
                handle.write(f"- assets/dir{i % 500:03d}/file-{i:07d}.js\n")
        argv = [sys.executable, "-m", "jdcdn_action", "--dry-run", "--base-url",
                "https://www.example.com/", "--paths-file", str(path)]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120,
                                  env=os.environ | {"PYTHONPATH": str(ROOT)})
            times.append(time.perf_counter() - start)
            assert done.returncode == 2 and "max-urls" in done.stderr, done.stderr
        import yaml

        return [{"paths": paths, "mb": round(path.stat().st_size / 1e6, 1),
                 "seconds": round(statistics.median(times), 3),
                 "libyaml": bool(getattr(yaml, "__with_libyaml__", False))}]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_git(files: int) -> list[dict]:
    """git-diff: range resolution and file listing for one commit touching ``files``."""
    try:
        from jdcdn_action import changes
    except ImportError:
        return []
    from jdcdn_action.console import Console
    from jdcdn_action.settings import load

    repo = Path(tempfile.mkdtemp(prefix="jdcdn-bench-git-"))
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    try:
        subprocess.run([*git, "init", "-q"], check=True)
        (repo / "README").write_text("base\n")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        for i in range(files):
            folder = repo / "public" / f"d{i % 200}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i}.html").write_text(str(i))
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "many"], check=True)
        settings = load(["--git-diff", "--git-base", "HEAD^", "--git-head", "HEAD",
                         "--source-dir", "public", "--dry-run"], {})
        old = os.getcwd()
        os.chdir(repo)
        try:
            with open(os.devnull, "w") as devnull:
                start = time.perf_counter()
                entries = changes.changed_entries(settings, Console(out=devnull))
                seconds = time.perf_counter() - start
        finally:
            os.chdir(old)
        assert len(entries) == files, len(entries)
        return [{"files": files, "seconds": round(seconds, 3)}]
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def table(title: str, rows: list[dict]) -> str:
    if not rows:
        return f"\n{title}: (not available)\n"
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = [f"\n{title}", "  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"),
                        help="where to write the results")
    args = parser.parse_args()
    if args.smoke:
        sizes, urls, latencies, concurrencies, repeat, git_files, paths_file = \
            [100, 1000], 300, [0.01], [1, 4], 2, 50, 3000
    else:
        sizes, urls, latencies, concurrencies, repeat, git_files, paths_file = \
            [1_000, 10_000, 100_000, 1_000_000], 2000, [0.1, 0.3], [1, 4, 8], 15, 50_000, \
            320_000
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "smoke": args.smoke,
        "planning": bench_planning(sizes),
        "paths_file": bench_paths_file(paths_file),
        "calls": bench_calls(urls, latencies, concurrencies),
        "startup": bench_startup(repeat),
        "git_diff": bench_git(git_files),
    }
    print(f"jdcdn-action benchmark, {results['date']}, Python {results['machine']['python']}, "
          f"{results['machine']['cpus']} CPUs")
    print(table("Planning (entries -> URLs -> batches)", results["planning"]))
    print(table("A large paths-file, to the max-urls refusal", results["paths_file"]))
    print(table("Calls against the fake server", results["calls"]))
    print(table("Start-up (median)", results["startup"]))
    print(table("git-diff listing", results["git_diff"]))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
