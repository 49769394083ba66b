"""The release's path, end to end on this machine: push, digest, pull by digest, run.

A release pushes the image to a registry and pins action.yml to
``docker://<registry>/jdcdn-action@sha256:<digest>``; every job that uses the release
then pulls exactly that image instead of building the Dockerfile. Here the registry is
Debian's ``docker-registry`` (the CNCF distribution server), started by the test on a
free 127.0.0.1 port with its own no-auth config and stopped after; Docker allows plain
http to 127.0.0.0/8 registries. The image is pushed, its digest read from the push and
from the registry, every local name of it removed, pulled back by digest, and run the way
the runner runs the pinned action.yml (which pin_image.py writes).

Without Docker or docker-registry these tests are skipped, except under CI (``CI=true``).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import test_container
from tests.test_container import BASE_URL, GitHubJob, Image, _unavailable, make_site

# The image fixture of the container tests: built from the Dockerfile, tagged JDCDN_TEST_IMAGE.
image = test_container.image

ROOT = Path(__file__).resolve().parent.parent
PIN_SCRIPT = ROOT / ".github" / "scripts" / "pin_image.py"
REGISTRY_START_SECONDS = 20
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_get(url: str, accept: str = "") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A registry on 127.0.0.1 (no auth, storage under tmp_path); yields ``host:port``."""
    server = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").is_file() else None)
    if server is None:
        _unavailable("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "registry-data")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))
    log = (tmp_path / "registry.log").open("w")
    process = subprocess.Popen([server, "serve", str(config)], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + REGISTRY_START_SECONDS
        while True:
            try:
                if registry_get(f"http://127.0.0.1:{port}/v2/")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("docker-registry did not start: "
                            + (tmp_path / "registry.log").read_text()[-2000:])
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def image_id(ref: str) -> str | None:
    done = docker("image", "inspect", "--format", "{{.Id}}", ref, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def test_the_pushed_image_runs_pinned_by_digest(image: Image, registry: str, tmp_path: Path):
    repository = f"{registry}/jdcdn-action"
    pushed = f"{repository}:release-test"
    original_id = image_id(image.tag)
    assert original_id
    try:
        assert docker("tag", image.tag, pushed).returncode == 0
        push = docker("push", pushed)
        assert push.returncode == 0, push.stdout + push.stderr
        digests = DIGEST_RE.findall(push.stdout.split("digest:")[-1])
        assert digests, push.stdout
        digest = digests[0]
        # the registry names the same manifest by the same digest
        status, headers, _ = registry_get(
            f"http://{registry}/v2/jdcdn-action/manifests/release-test",
            accept="application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.oci.image.manifest.v1+json")
        assert status == 200 and headers.get("Docker-Content-Digest") == digest

        # Every local name of the image goes; the image itself goes unless another
        # build on this engine shares it (never removed by force: not ours to remove).
        for ref in (pushed, image.tag):
            removed = docker("image", "rm", ref, timeout=120)
            assert removed.returncode == 0, removed.stderr
        pinned = f"{repository}@{digest}"
        shared = image_id(original_id) is not None  # another tag on this engine keeps it

        pull = docker("pull", pinned)
        assert pull.returncode == 0, pull.stdout + pull.stderr
        assert digest in pull.stdout
        if not shared:  # gone locally, so it came from the registry
            assert "Downloaded newer image" in pull.stdout, pull.stdout
        assert image_id(pinned) == original_id  # the same config, so the same image

        # action.yml as the release commit has it, and the runner running that image
        action = tmp_path / "action.yml"
        shutil.copyfile(ROOT / "action.yml", action)
        done = subprocess.run([sys.executable, str(PIN_SCRIPT), "--file", str(action), pinned],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        runs = yaml.safe_load(action.read_text())["runs"]
        assert runs == {"using": "docker", "image": f"docker://{pinned}"}

        job = GitHubJob(tmp_path / "runner")
        make_site(job.workspace)
        run = job.run(Image(runs["image"].removeprefix("docker://"), image.base),
                      {"base-url": BASE_URL, "paths-file": "deploy/paths.yml",
                       "dry-run": "true"})
        assert run.code == 0, run.log
        assert run.json_output("urls") == [BASE_URL, BASE_URL + "css/site.css",
                                           BASE_URL + "index.html"]
        assert run.outputs["batch-count"] == "2" and run.json_output("task-ids") == []
        version = docker("run", "--rm", pinned, "--version")
        assert version.returncode == 0 and version.stdout.startswith("jdcdn-refresh ")
    finally:
        # the image's own tag comes back for later tests; the registry's names go
        if image_id(image.tag) is None and image_id(original_id) is not None:
            docker("tag", original_id, image.tag, timeout=60)
        for ref in (pushed, *(json.loads(docker(
                "image", "inspect", "--format", "{{json .RepoDigests}}", original_id,
                timeout=60).stdout or "[]"))):
            if ref.startswith(repository):
                docker("image", "rm", ref, timeout=60)
