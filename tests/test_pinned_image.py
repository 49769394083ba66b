"""The release's path, end to end on this machine: push, digest, pull by digest, run.

A release pushes the image to a registry and pins action.yml to
``docker://<registry>/jdcdn-action@sha256:<digest>``; every job that uses the release
then pulls exactly that image instead of building the Dockerfile. Here the registry is
Debian's ``docker-registry`` (the CNCF distribution server), started by the test on a
free 127.0.0.1 port with its own no-auth config and stopped after; Docker allows plain
http to 127.0.0.0/8 registries. The image is pushed, its digest read from the push and
from the registry, every local name of it removed, pulled back by digest, and run the way
the runner runs the pinned action.yml (which pin_image.py writes). Then the same again
under nektos/act, which is what a job really does with a pinned action: act reads the
``docker://`` image from action.yml, pulls it by digest because it is absent (``--pull=false``
only stops act pulling images it already has) and runs it, and a later step reads the
outputs.

Without Docker or docker-registry these tests are skipped, except under CI (``CI=true``);
the act test is in the ``runners`` marker, and needs act as the act suite does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests import test_runner_act
from tests.container import GitHubJob, Image, make_site
from tests.fake_jd import FakeJd
from tests.helpers import BASE, ROOT, SECRET, USERNAME, unavailable, unused_port
from tests.runners import assert_no_secret, copy_action
from tests.test_runner_act import Scratch, endpoint, workflow

# The act suite's fixtures: act itself (skipped or failed as there), a scratch repository.
act = test_runner_act.act
scratch = test_runner_act.scratch

PIN_SCRIPT = ROOT / ".github" / "scripts" / "pin_image.py"
REGISTRY_START_SECONDS = 20
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# The released action's folder in the act test's repository. Not the act suite's folder:
# act would name a Dockerfile build of this one "act-jdcdn-action-pinned-dockeraction".
PINNED_FOLDER = "jdcdn-action-pinned"


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
        unavailable("docker-registry is not installed (apt-get install docker-registry)")
    port = unused_port()
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


@dataclass(frozen=True)
class Released:
    """The image as a release leaves it: in the registry, known by its digest."""

    repository: str  # host:port/jdcdn-action
    digest: str
    image_id: str
    shared: bool  # another tag on this engine keeps the image's content after its names go

    @property
    def pinned(self) -> str:
        return f"{self.repository}@{self.digest}"


@pytest.fixture
def released(image: Image, registry: str) -> Iterator[Released]:
    """Push the session's image, read its digest from the push and from the registry, and
    remove every local name of it, so that whatever runs it next must pull it by digest.

    Names are removed, never the image by force: another build on this engine may share
    it (then only the layers are already there). Afterwards the image's own tag comes back
    for later tests and the registry's names go.
    """
    repository = f"{registry}/jdcdn-action"
    pushed = f"{repository}:release-test"
    original_id = image_id(image.tag)
    assert original_id
    digest = ""
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

        pinned = f"{repository}@{digest}"
        for ref in (pushed, image.tag):
            removed = docker("image", "rm", ref, timeout=120)
            assert removed.returncode == 0, removed.stderr
        if image_id(pinned) is not None:  # the push's digest reference, if it outlived the tag
            removed = docker("image", "rm", pinned, timeout=120)
            assert removed.returncode == 0, removed.stderr
        assert image_id(pinned) is None, f"{pinned} is still present locally"
        yield Released(repository, digest, original_id,
                       shared=image_id(original_id) is not None)
    finally:
        if image_id(image.tag) is None:
            if image_id(original_id) is None and digest:  # a test failed before pulling it
                docker("pull", f"{repository}@{digest}")
            if image_id(original_id) is not None:
                docker("tag", original_id, image.tag, timeout=60)
        inspect = docker("image", "inspect", "--format", "{{json .RepoDigests}}", original_id,
                         timeout=60)
        for ref in (pushed, *(json.loads(inspect.stdout) if inspect.returncode == 0 else [])):
            if ref.startswith(repository):
                docker("image", "rm", ref, timeout=60)


def pin_copy(action: Path, ref: str) -> dict:
    """Pin ``action`` (a copy of action.yml) with pin_image.py, as the release commit is
    made; returns its ``runs``."""
    done = subprocess.run([sys.executable, str(PIN_SCRIPT), "--file", str(action), ref],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(action.read_text())["runs"]


def test_the_pushed_image_runs_pinned_by_digest(image: Image, released: Released,
                                                tmp_path: Path):
    pinned = released.pinned
    pull = docker("pull", pinned)
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert released.digest in pull.stdout
    if not released.shared:  # gone locally, so it came from the registry
        assert "Downloaded newer image" in pull.stdout, pull.stdout
    assert image_id(pinned) == released.image_id  # the same config, so the same image

    # action.yml as the release commit has it, and the runner running that image
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    runs = pin_copy(action, pinned)
    assert runs == {"using": "docker", "image": f"docker://{pinned}"}

    job = GitHubJob(tmp_path / "runner")
    make_site(job.workspace)
    run = job.run(Image(runs["image"].removeprefix("docker://"), image.base),
                  {"base-url": BASE, "paths-file": "deploy/paths.yml",
                   "dry-run": "true"})
    assert run.code == 0, run.log
    assert run.json_output("urls") == [BASE, BASE + "css/site.css",
                                       BASE + "index.html"]
    assert run.outputs["batch-count"] == "2" and run.json_output("task-ids") == []
    version = docker("run", "--rm", pinned, "--version")
    assert version.returncode == 0 and version.stdout.startswith("jdcdn-refresh ")


@pytest.mark.runners
def test_act_pulls_the_pinned_action_by_digest_and_runs_it(
        act: str, released: Released, fake_jd: FakeJd, scratch: Scratch):
    pinned = released.pinned
    folder = copy_action(scratch.site, PINNED_FOLDER)  # the Dockerfile stays, unused
    assert pin_copy(folder / "action.yml", pinned)["image"] == f"docker://{pinned}"
    scratch.repo.commit("the released action, pinned")

    run = scratch.run(act, workflow({
        "id": "cdn", "uses": f"./{PINNED_FOLDER}",
        "with": endpoint(fake_jd) | {"username": "${{ secrets.JDCDN_USERNAME }}",
                                     "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
                                     "paths": "index.html\ncss/site.css\n"}}),
        secrets={"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET})

    assert run.code == 0, run.log
    # the later step read the outputs of the pinned image's run
    assert run.recorded["outcome"] == "success", run.log
    task_ids = json.loads(run.recorded["task-ids"])
    assert task_ids == [call.answer["taskid"] for call in fake_jd.accepted()]
    assert len(task_ids) == 1
    assert run.recorded["url-count"] == "3"
    assert fake_jd.refreshed("file") == {BASE, BASE + "css/site.css",
                                         BASE + "index.html"}
    # act pulled the image by its digest and built nothing
    assert f"docker pull image={pinned}" in run.log, run.log
    assert "docker build" not in run.log, run.log
    assert image_id(f"act-{PINNED_FOLDER}-dockeraction:latest") is None
    assert image_id(pinned) == released.image_id
    assert_no_secret("act's log", run.log, SECRET)
