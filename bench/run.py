"""Benchmarks: planning, concurrent calls, verify's fetches, start-up, git-diff listing, and
the image.

    python bench/run.py            # full sizes; prints a table, writes bench/results.json
    python bench/run.py --smoke    # tiny sizes, seconds; what CI runs to keep this working
    python bench/run.py --image    # also the image: size over its base, container start-up,
                                   # and a job's step: cold Dockerfile build + run vs pinned run

Everything runs on this machine: the calls go to the tests' fake JD server on 127.0.0.1.
``--image`` needs a Docker engine and the base image (``--base-image``, else
JDCDN_BASE_IMAGE, else the Dockerfile's default); it builds under its own tag (``--tag``)
and removes what its cold builds made. The step is timed with ``docker`` commands, not
under act, and the pinned image is already present: no pull is in it (docs/releasing.md: the act
step with a pull from a loopback registry, as tests/test_pinned_image.py runs it).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import re
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
from jdcdn_action.batches import plan_batches
from jdcdn_action.settings_values import parse_base_url
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
                             env=command_env(), capture_output=True, text=True, check=True,
                             timeout=600)
        result = json.loads(out.stdout)
        rows.append({"paths": n, "seconds": round(result["seconds"], 4),
                     "us_per_path": round(result["seconds"] / n * 1e6, 2),
                     "peak_mib": round(result["peak_mib"], 1)})
    return rows


def bench_calls(urls: int, latencies: list[float], concurrencies: list[int],
                api: str = "legacy") -> list[dict]:
    """Wall time of the sending stage against a fake server (legacy or OpenAPI), next to
    the floor ``ceil(calls / concurrency) x latency``."""
    import datetime as dt

    from jdcdn_action.api.legacy import LegacyApi
    from jdcdn_action.api.openapi import OpenApi
    from jdcdn_action.batches import plan_batches
    from jdcdn_action.sending import send_batches
    from jdcdn_action.urls import UrlPlan
    from tests.fake_jd import FakeJd
    from tests.fake_openapi import FakeOpenApi

    plan = UrlPlan(files=tuple(f"https://www.example.com/f{i:05d}.js" for i in range(urls)),
                   dirs=())
    batches = plan_batches(plan)
    rows = []
    for latency in latencies:
        for concurrency in concurrencies:
            fake = FakeJd(latency=latency) if api == "legacy" else FakeOpenApi(
                "AKBENCH", "bench-secret", latency=latency)
            with fake:
                backend = LegacyApi(fake.endpoint, fake.username, fake.secret,
                                    dt.timezone(dt.timedelta(hours=8)),
                                    pool_size=concurrency, max_attempts=1) \
                    if api == "legacy" else OpenApi(fake.endpoint, "AKBENCH", "bench-secret",
                                                    pool_size=concurrency, max_attempts=1)
                start = time.perf_counter()
                results = send_batches(backend, batches, concurrency)
                wall = time.perf_counter() - start
                backend.close()
                assert all(r.outcome == "succeeded" for r in results), results[0].error
            floor = math.ceil(len(batches) / concurrency) * latency
            rows.append({"api": api, "urls": urls, "calls": len(batches),
                         "latency_ms": latency * 1000, "concurrency": concurrency,
                         "seconds": round(wall, 3), "floor_seconds": round(floor, 3),
                         "over_floor_pct": round((wall / floor - 1) * 100, 1)})
    return rows


def bench_verify(urls: int, latency: float, concurrencies: list[int]) -> list[dict]:
    """``verify``'s fetching: every URL fetched once from the fake CDN edge (fresh), its
    body hashed and compared, next to the floor ``ceil(urls / concurrency) x latency``."""
    from jdcdn_action.console import Console
    from jdcdn_action.network import Network
    from jdcdn_action.verify import fetch, fetch_rounds, new_session, prepare
    from jdcdn_action.verify_plan import Target
    from tests.fake_edge import FakeEdge

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        for i in range(urls):
            (site / f"f{i:05d}.js").write_text(f"console.log({i});\n" * 50)
        for concurrency in concurrencies:
            with FakeEdge(site, latency=latency) as edge:
                checks = [prepare(Target(f"{edge.base_url}f{i:05d}.js", f"f{i:05d}.js"),
                                  folder, ()) for i in range(urls)]
                session = new_session(Network(), concurrency)
                start = time.perf_counter()
                fetch_rounds(checks, functools.partial(fetch, session),
                             concurrency=concurrency, timeout=30, verify_timeout=0,
                             backoff=1, console=Console())
                wall = time.perf_counter() - start
                session.close()
            assert all(c.outcome == "fresh" for c in checks), checks[0].detail
            floor = math.ceil(urls / concurrency) * latency
            rows.append({"urls": urls, "latency_ms": latency * 1000,
                         "concurrency": concurrency, "seconds": round(wall, 3),
                         "floor_seconds": round(floor, 3),
                         "over_floor_pct": round((wall / floor - 1) * 100, 1)})
    return rows


def bench_signing(repeat: int) -> list[dict]:
    """What signing one call costs: a 100-URL body, each API's way (median per call)."""
    import datetime as dt

    from jdcdn_action.api.legacy_signing import sign
    from jdcdn_action.api.openapi_signing import signed_headers

    body = json.dumps({"taskType": "url", "urls": [
        f"https://www.example.com/assets/file-{i:05d}.js" for i in range(100)]}).encode()
    cases = {
        "openapi (JDCLOUD3-HMAC-SHA256, 100-URL body)": lambda: signed_headers(
            "POST", "https://cdn.jdcloud-api.com/v1/task", body, "AK", "SK", "TOKEN"),
        "legacy (md5 of date, user and key)": lambda: sign("user", "key", dt.date.today()),
    }
    rows = []
    for name, sign_once in cases.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(100):
                sign_once()
            times.append((time.perf_counter() - start) / 100)
        rows.append({"signature": name, "us_per_call": round(statistics.median(times) * 1e6,
                                                             1)})
    return rows


def command_env() -> dict[str, str]:
    """The environment of the command's runs: a plain shell's, whatever this script runs
    under. A CI runner's own variables (GITHUB_ACTIONS turns errors into annotations on
    stdout, GITHUB_OUTPUT would receive the runs' outputs, INPUT_*/JDCDN_* are settings)
    must not change what is measured."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"),
           "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT)}
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _median_run(argv: list[str], repeat: int, cwd: str) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=True, timeout=60,
                       env=command_env())
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
    try:
        rows = [{"command": name, "seconds": round(_median_run(argv, repeat, work), 4)}
                for name, argv in cases]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0]["seconds"]
    for row in rows:
        row["x_bare_python"] = round(row["seconds"] / base, 2)
    return rows


def bench_paths_file(paths: int, repeat: int) -> list[dict]:
    """A large paths-file (one '- path' line each) until "over max-urls": the whole
    command, as a user would run it, median of ``repeat``."""
    work = tempfile.mkdtemp(prefix="jdcdn-bench-")
    try:
        path = Path(work, "paths.yml")
        with open(path, "w", encoding="utf-8") as handle:
            for i in range(paths):
                handle.write(f"- assets/dir{i % 500:03d}/file-{i:07d}.js\n")
        argv = [sys.executable, "-m", "jdcdn_action", "--dry-run", "--base-url",
                "https://www.example.com/", "--paths-file", str(path)]
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120,
                                  env=command_env())
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
        with open(os.devnull, "w") as devnull:
            start = time.perf_counter()
            entries = changes.changed_entries(
                Console(out=devnull), {}, source_dir="public", git_base="HEAD^",
                git_head="HEAD", cwd=str(repo))
            seconds = time.perf_counter() - start
        assert len(entries) == files, len(entries)
        return [{"files": files, "seconds": round(seconds, 3)}]
    finally:
        shutil.rmtree(repo, ignore_errors=True)


DRY_RUN_ARGS = ["--dry-run", "--base-url", "https://www.example.com/", "index.html",
                "css/site.css"]


def _docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _dockerfile_default_base() -> str:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG BASE_IMAGE="):
            return line.partition("=")[2].strip()
    raise SystemExit("the Dockerfile has no ARG BASE_IMAGE=")


def _build(tag: str, base: str, no_cache: bool) -> tuple[float, list[str]]:
    """docker build as a job's `uses:` does; returns seconds and the images it made."""
    command = ["docker", "build", "--network", "host", "--tag", tag,
               "--build-arg", f"BASE_IMAGE={base}", *(["--no-cache"] if no_cache else []),
               str(ROOT)]
    env = os.environ | ({"DOCKER_BUILDKIT": "0"} if subprocess.run(
        ["docker", "buildx", "version"], capture_output=True).returncode else {})
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800,
                          stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"docker build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    # the legacy builder's step images (" ---> 1a2b3c4d5e6f"): removed after the bench
    return seconds, re.findall(r"^ ---> ([0-9a-f]{12})$", done.stdout, re.MULTILINE)


def _forget(images: list[str]) -> None:
    """Remove the untagged step images of our own --no-cache builds (never by force)."""
    for image_id in reversed(images):
        tags = subprocess.run(["docker", "image", "inspect", "--format", "{{len .RepoTags}}",
                               image_id], capture_output=True, text=True)
        if tags.returncode == 0 and tags.stdout.strip() == "0":
            subprocess.run(["docker", "image", "rm", image_id], capture_output=True)


def _median_docker_runs(cases: list[tuple[str, list[str]]], repeat: int) -> dict[str, float]:
    """Start to exit of each ``docker run``, alternating the cases, median of ``repeat``."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeat):
        for name, argv in cases:
            start = time.perf_counter()
            subprocess.run(["docker", "run", "--rm", "--network", "none", *argv],
                           capture_output=True, check=True, timeout=120)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_image(tag: str, base: str, repeat: int, cold_builds: int) -> dict[str, list[dict]]:
    """The image as a job meets it: what it adds to the base, how fast a container of it
    starts next to a bare python3 in the same base, and the action's step with a
    Dockerfile (a cold `docker build` then the run) against a pinned, present image."""
    cold: list[float] = []
    made: list[str] = []
    try:
        for _ in range(cold_builds):
            seconds, images = _build(tag, base, no_cache=True)
            cold.append(seconds)
            made += images
        if not cold:
            _build(tag, base, no_cache=False)
        sizes = _docker("image", "inspect", "--format", "{{.Size}}", tag, base).stdout.split()
        over = (int(sizes[0]) - int(sizes[1])) / 1e6
        history = _docker("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}",
                          tag).stdout.splitlines()
        base_history = _docker("history", "--quiet", base).stdout.splitlines()
        # newest first: the entries above the base's own are the Dockerfile's final stage
        added = [{"layer": re.sub(r"dir:[0-9a-f]+ ", "", created.split("#(nop)")[-1].strip()),
                  "size": size}
                 for size, created in (line.split("\t", 1)
                                       for line in history[:len(history) - len(base_history)])
                 if size not in ("0B", "0")]
        size_rows = [{"image": tag, "base": base, "mb_over_base": round(over, 1)},
                     *({"image": f"  {row['layer']}", "base": "", "mb_over_base": row["size"]}
                       for row in added)]
        medians = _median_docker_runs([
            ("bare python3 in the base", [base, "python3", "-c", "pass"]),
            ("the image's dry run", [tag, *DRY_RUN_ARGS]),
        ], repeat)
        bare = medians["bare python3 in the base"]
        startup = [{"command": name, "seconds": round(value, 3),
                    "x_bare_python": round(value / bare, 2)} for name, value in medians.items()]
        run = medians["the image's dry run"]
        step = [{"step": "pinned image (present), run", "seconds": round(run, 2)}]
        if cold:
            build = statistics.median(cold)
            step.insert(0, {"step": "Dockerfile: docker build --no-cache + run",
                            "seconds": round(build + run, 2)})
        return {"size": size_rows, "startup": startup, "step": step}
    finally:
        _forget(made)


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
    parser.add_argument("--image", action="store_true",
                        help="also measure the image (needs Docker and the base image)")
    parser.add_argument("--base-image", default=os.environ.get("JDCDN_BASE_IMAGE", ""),
                        help="the base to build FROM (default: JDCDN_BASE_IMAGE, else the "
                             "Dockerfile's)")
    parser.add_argument("--tag", default="jdcdn-action:bench",
                        help="the tag the image is built under")
    parser.add_argument("--cold-builds", type=int, default=3,
                        help="docker build --no-cache runs for the step time (median)")
    args = parser.parse_args()
    if args.smoke:
        sizes, urls, latencies, concurrencies, repeat, git_files, paths_file = \
            [100, 1000], 300, [0.01], [1, 4], 1, 50, 3000
        verify_urls, verify_latency, verify_concurrencies = 40, 0.01, [4]
    else:
        sizes, urls, latencies, concurrencies, repeat, git_files, paths_file = \
            [1_000, 10_000, 100_000, 1_000_000], 2000, [0.1, 0.3], [1, 4, 8], 15, 50_000, \
            320_000
        verify_urls, verify_latency, verify_concurrencies = 2000, 0.1, [4, 8]
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "smoke": args.smoke,
        "planning": bench_planning(sizes),
        "paths_file": bench_paths_file(paths_file, 1 if args.smoke else 3),
        "calls": bench_calls(urls, latencies, concurrencies),
        "calls_openapi": bench_calls(urls, latencies, concurrencies, api="openapi"),
        "verify": bench_verify(verify_urls, verify_latency, verify_concurrencies),
        "signing": bench_signing(repeat),
        "startup": bench_startup(repeat),
        "git_diff": bench_git(git_files),
    }
    if args.image:
        base = args.base_image or _dockerfile_default_base()
        results["image"] = bench_image(args.tag, base, 3 if args.smoke else 40,
                                       min(args.cold_builds, 1) if args.smoke
                                       else args.cold_builds)
    print(f"jdcdn-action benchmark, {results['date']}, Python {results['machine']['python']}, "
          f"{results['machine']['cpus']} CPUs")
    print(table("Planning (entries -> URLs -> batches)", results["planning"]))
    print(table("A large paths-file, to the max-urls refusal", results["paths_file"]))
    print(table("Calls against the fake server (legacy)", results["calls"]))
    print(table("Calls against the fake server (OpenAPI)", results["calls_openapi"]))
    print(table("verify: fetching every URL once from the fake edge", results["verify"]))
    print(table("Signing one call (median)", results["signing"]))
    print(table("Start-up (median)", results["startup"]))
    print(table("git-diff listing", results["git_diff"]))
    if "image" in results:
        print(table("Image size above its base", results["image"]["size"]))
        print(table("Container start-up (docker run, median)", results["image"]["startup"]))
        print(table("The action's step in a job", results["image"]["step"]))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
