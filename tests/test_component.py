"""The GitLab CI/CD component (templates/refresh.yml).

The component's inputs are the table's settings without the credentials, by name, default,
meaning, type and options, plus ``stage``, ``as`` and ``image``; its job maps each input to
the setting's ``JDCDN_*`` variable, runs the image's entrypoint and keeps the report and the
dotenv file. GitLab's own schema (check-jsonschema's vendored copy) checks it.
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

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "templates" / "refresh.yml"
CONTRACT = ROOT.parent / "shared" / "docs" / "interface.md"
JOB_INPUTS = ("stage", "as", "image")
TYPES = {"bool": "boolean", "int": "number", "float": "number"}
INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*(?:\|[^\]]*)?\]\]")


def component() -> tuple[dict, str, dict]:
    """The spec's inputs, the job's name as written, and the job."""
    header, jobs = yaml.safe_load_all(COMPONENT.read_text(encoding="utf-8"))
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


def gitlab_schema_check(tmp_path: Path, name: str, document: object) -> None:
    checker = shutil.which("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    check = subprocess.run([checker, "--builtin-schema", "vendor.gitlab-ci", str(path)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_component_passes_gitlabs_schema(tmp_path):
    header, jobs = yaml.safe_load_all(COMPONENT.read_text(encoding="utf-8"))
    gitlab_schema_check(tmp_path, "spec.yml", header)
    gitlab_schema_check(tmp_path, "job.yml", jobs)


def test_the_schema_check_refuses_a_string_default_for_a_boolean(tmp_path):
    """What the schema check above is worth: the mistake GitLab refuses, it refuses."""
    header = next(yaml.safe_load_all(COMPONENT.read_text(encoding="utf-8")))
    header["spec"]["inputs"]["dry-run"]["default"] = "false"
    with pytest.raises(AssertionError, match="dry-run"):
        gitlab_schema_check(tmp_path, "spec.yml", header)
