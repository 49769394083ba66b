"""The GitLab CI/CD component (templates/refresh.yml) and the pipeline that publishes it.

The component's inputs are the table's settings without the credentials, by name, default,
meaning, type and options, plus ``stage``, ``as`` and ``image``; its job maps each input to
the setting's ``JDCDN_*`` variable, runs the image's entrypoint and keeps the report and the
dotenv file. The root .gitlab-ci.yml includes the component at ``$CI_COMMIT_SHA`` and
publishes release tags with the ``release:`` keyword. GitLab's own schema (check-jsonschema's
vendored copy) checks both files; gitlab-ci-local runs them in
tests/test_runner_component.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from jdcdn_action import settings as settings_mod
from jdcdn_action.settings_table import BY_NAME, CREDENTIALS, SETTINGS
from tests.helpers import ROOT, unavailable, yaml_documents, yaml_file

COMPONENT = ROOT / "templates" / "refresh.yml"
PIPELINE = ROOT / ".gitlab-ci.yml"
CONTRACT = ROOT.parent / "shared" / "docs" / "interface.md"
JOB_INPUTS = ("stage", "as", "image")
TYPES = {"bool": "boolean", "int": "number", "float": "number"}
INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*(?:\|[^\]]*)?\]\]")


def component() -> tuple[dict, str, dict]:
    """The spec's inputs, the job's name as written, and the job."""
    header, jobs = yaml_documents(COMPONENT)
    assert list(header) == ["spec"] and len(jobs) == 1, "a spec header, then one job"
    (name, job), = jobs.items()
    return header["spec"]["inputs"], name, job


SETTING_INPUTS = [s for s in SETTINGS if s.name not in CREDENTIALS]


def test_the_inputs_are_the_settings_without_credentials_then_stage_as_image():
    inputs, _, _ = component()
    assert list(inputs) == [*JOB_INPUTS, *(s.name for s in SETTING_INPUTS)]
    assert not set(inputs) & set(CREDENTIALS)
    assert (inputs["stage"]["default"], inputs["as"]["default"]) == ("deploy", "jdcdn-refresh")


@pytest.mark.parametrize("setting", SETTING_INPUTS, ids=lambda s: s.name)
def test_each_input_has_the_settings_default_meaning_type_and_options(setting):
    spec = component()[0][setting.name]
    assert " ".join(spec["description"].split()) == setting.help
    assert spec.get("type", "string") == TYPES.get(setting.kind, "string")
    if setting.kind in TYPES:
        # a real boolean or number (GitLab refuses "false" as a boolean's default), equal
        # to what the command makes of the table's default
        assert type(spec["default"]) is not str
        assert spec["default"] == settings_mod.convert(setting.name, setting.default)
    else:
        assert spec["default"] == setting.default
    assert spec.get("options", []) == list(setting.choices)
    if setting.choices:
        assert spec["default"] in spec["options"]


def test_report_file_default_is_left_to_the_command_and_is_the_artifact():
    """``report-file`` is empty, as in the table: the command picks the path at run time,
    and without RUNNER_TEMP (GitLab sets none) that is the path the job keeps."""
    inputs, _, job = component()
    assert inputs["report-file"]["default"] == ""
    loaded = settings_mod.load(["--dry-run"], {"GITLAB_CI": "true"})
    assert job["artifacts"]["paths"] == [loaded.report_file] == ["jdcdn-report.json"]


def test_the_job_maps_every_setting_input_to_its_variable_and_nothing_else():
    _, _, job = component()
    variables = job["variables"]
    settings = {k: v for k, v in variables.items() if k.startswith("JDCDN_")}
    settings.pop("JDCDN_DOTENV")
    assert settings == {s.env_variable: f"$[[ inputs.{s.name} ]]" for s in SETTING_INPUTS}
    for name in CREDENTIALS:  # read from the project's CI/CD variables, never set here
        assert BY_NAME[name].env_variable not in variables
        assert name not in COMPONENT.read_text(encoding="utf-8").split("---\n", 1)[1]


def test_every_interpolation_names_a_declared_input_and_every_input_is_used():
    """GitLab refuses an unknown interpolation key; an input nothing reads would be a
    setting silently dropped."""
    inputs, _, _ = component()
    body = COMPONENT.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    used = INTERPOLATION.findall(body)
    assert set(used) == set(inputs)
    assert len(used) == len(set(used))


def test_the_job_is_named_and_placed_by_inputs_and_runs_the_images_entrypoint():
    _, name, job = component()
    assert name == "$[[ inputs.as ]]"
    assert job["stage"] == "$[[ inputs.stage ]]"
    assert job["image"] == {"name": "$[[ inputs.image ]]", "entrypoint": [""]}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M)
    assert entrypoint, "the Dockerfile has no exec-form ENTRYPOINT"
    assert job["script"] == [" ".join(json.loads(entrypoint.group(1)))]


def test_the_job_keeps_the_dotenv_report_it_writes_and_the_whole_history():
    _, _, job = component()
    assert job["artifacts"]["reports"] == {"dotenv": job["variables"]["JDCDN_DOTENV"]}
    assert job["artifacts"]["when"] == "always"
    assert job["variables"]["GIT_DEPTH"] == "0"


def test_the_contract_names_the_same_credentials():
    if not CONTRACT.is_file():
        pytest.skip("the interface contract is not beside this checkout")
    section = CONTRACT.read_text(encoding="utf-8").split("## GitLab CI/CD component", 1)[1]
    named = re.search(r"except the credentials\s*\(([^)]*)\)", section)
    assert named and set(re.findall(r"`([\w-]+)`", named.group(1))) == set(CREDENTIALS)


def gitlab_schema_check(tmp_path: Path, documents: dict[str, object]) -> None:
    """GitLab's schema (check-jsonschema's copy) on each of ``documents`` (file name:
    document), in one run of the checker."""
    checker = shutil.which("check-jsonschema")
    if checker is None:
        unavailable("check-jsonschema is not installed (pip install -e '.[test]')")
    paths = [tmp_path / name for name in documents]
    for path, document in zip(paths, documents.values(), strict=True):
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    check = subprocess.run([checker, "--builtin-schema", "vendor.gitlab-ci", *map(str, paths)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_component_passes_gitlabs_schema(tmp_path):
    header, jobs = yaml_documents(COMPONENT)
    gitlab_schema_check(tmp_path, {"spec.yml": header, "job.yml": jobs})


def test_the_schema_check_refuses_a_string_default_for_a_boolean(tmp_path):
    """What the schema check above is worth: the mistake GitLab refuses, it refuses (and
    in a run with a document that passes)."""
    header, jobs = yaml_documents(COMPONENT)
    header["spec"]["inputs"]["dry-run"]["default"] = "false"
    with pytest.raises(AssertionError, match="dry-run"):
        gitlab_schema_check(tmp_path, {"job.yml": jobs, "spec.yml": header})


# -- the repository's pipeline (.gitlab-ci.yml) ----------------------------------------------
def pipeline() -> dict:
    return yaml_file(PIPELINE)


def test_the_pipeline_passes_gitlabs_schema(tmp_path):
    gitlab_schema_check(tmp_path, {"gitlab-ci.yml": pipeline()})


def test_the_pipeline_tests_the_component_at_this_commit_with_declared_inputs():
    """Both includes name the component at $CI_COMMIT_SHA, as GitLab's docs recommend:
    with its default image on tags, with the image built from this commit otherwise."""
    inputs, _, _ = component()
    includes = pipeline()["include"]
    assert [i["component"] for i in includes] == [
        "$CI_SERVER_FQDN/$CI_PROJECT_PATH/refresh@$CI_COMMIT_SHA"] * 2
    assert [i["rules"] for i in includes] == [[{"if": "$CI_COMMIT_TAG"}],
                                              [{"if": "$CI_COMMIT_TAG == null"}]]
    tagged, branch = (i["inputs"] for i in includes)
    assert "image" not in tagged
    assert branch == {**tagged, "image": "$CI_REGISTRY_IMAGE/ci:$CI_COMMIT_SHA"}
    assert set(branch) <= set(inputs)  # GitLab refuses undeclared inputs
    assert tagged["dry-run"] is True and tagged["as"] == "component-test"
    jobs = pipeline()
    assert jobs["component-dotenv"]["needs"] == ["component-test"]
    assert jobs["build-image"]["rules"] == [{"if": "$CI_COMMIT_TAG == null"}]


RELEASE_RULE = [{"if": r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/"}]


@pytest.mark.parametrize(("tag", "released"), [
    ("v1.2.3", True), ("v10.20.30", True), ("v1", False), ("1.2.3", False),
    ("v1.2.3-rc1", False), ("v1.2", False), ("release-v1.2.3", False)])
def test_only_release_tags_publish(tag, released):
    """The release workflow tags vX.Y.Z (published as X.Y.Z) and moves vX (not published);
    the X.Y.Z tag the release makes must not publish again."""
    jobs = pipeline()
    for name in ("release-check", "catalog-release"):
        assert jobs[name]["rules"] == RELEASE_RULE
    regex = RELEASE_RULE[0]["if"].split("=~ /", 1)[1].rsplit("/", 1)[0]
    assert bool(re.search(regex, tag)) is released


def test_the_release_job_publishes_the_checked_version_on_the_tagged_commit():
    release = pipeline()["catalog-release"]
    assert release["release"]["tag_name"] == "$VERSION"  # from release-check's dotenv
    assert release["release"]["ref"] == "$CI_COMMIT_SHA"
    assert set(release["needs"]) == {"release-check", "component-dotenv", "settings-sync"}
    assert pipeline()["release-check"]["artifacts"]["reports"]["dotenv"] == "release.env"


DIGEST = "sha256:" + "ab" * 32
PINNED = f"ghcr.io/octo-org/jdcdn-action@{DIGEST}"


def release_check(tmp_path: Path, tag: str, action_image: str, component_image: str,
                  version: str, changelog: str = "## [1.2.3] - 2026-12-01"
                  ) -> subprocess.CompletedProcess[str]:
    """release-check's script, run by sh (as the job's image runs it) in a checkout."""
    (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n{changelog}\n\n### Added\n- x\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "jdcdn_action").mkdir()
    (tmp_path / "jdcdn_action" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    action = (ROOT / "action.yml").read_text(encoding="utf-8")
    (tmp_path / "action.yml").write_text(action.replace("  image: Dockerfile",
                                                        f"  image: {action_image}"))
    (tmp_path / "templates" / "refresh.yml").write_text(COMPONENT.read_text(
        encoding="utf-8").replace("default: registry.invalid/jdcdn-action:unreleased",
                                  f"default: {component_image}"))
    script = "\n".join(pipeline()["release-check"]["script"])
    return subprocess.run(["sh", "-e", "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                      "CI_COMMIT_TAG": tag})


def test_release_check_passes_a_pinned_release_and_names_its_version(tmp_path):
    done = release_check(tmp_path, "v1.2.3", f"docker://{PINNED}", PINNED, "1.2.3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "release.env").read_text() == "VERSION=1.2.3\n"


@pytest.mark.parametrize("heading", ["## [Unreleased]", "## [1.2.3]", "## [1x2x3] - 2026-12-01",
                                     "## [1.2.30] - 2026-12-01"])
def test_release_check_needs_a_dated_changelog_entry(tmp_path, heading):
    done = release_check(tmp_path, "v1.2.3", f"docker://{PINNED}", PINNED, "1.2.3", heading)
    assert done.returncode != 0
    assert "CHANGELOG.md has no dated entry for 1.2.3" in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "release.env").exists()


@pytest.mark.parametrize(("action_image", "component_image", "version", "says"), [
    (f"docker://{PINNED}", "registry.invalid/jdcdn-action:unreleased", "1.2.3",
     "templates/refresh.yml's image is not"),
    (f"docker://{PINNED}", PINNED.replace("ab", "cd"), "1.2.3",
     "templates/refresh.yml's image is not"),
    ("Dockerfile", PINNED, "1.2.3", "does not run an image by digest"),
    ("docker://ghcr.io/octo-org/jdcdn-action:1.2.3", PINNED, "1.2.3",
     "does not run an image by digest"),
    (f"docker://{PINNED}", PINNED, "1.2.4", "is not jdcdn_action.__version__"),
])
def test_release_check_refuses_what_the_catalog_must_not_get(tmp_path, action_image,
                                                             component_image, version, says):
    done = release_check(tmp_path, "v1.2.3", action_image, component_image, version)
    assert done.returncode != 0
    assert says in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "release.env").exists()
