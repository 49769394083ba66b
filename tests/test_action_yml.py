"""action.yml against the command, the documented tables and the interface contract.

The action's inputs are the command's settings, by name and default, and its outputs the
command's outputs; docs/settings.md and docs/outputs.md document exactly those, the README
its short settings summary and its outputs table; the repository's own workflows pin what
they use and keep expressions out of shell scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from jdcdn_action import settings as settings_mod
from jdcdn_action.outputs import output_values
from jdcdn_action.results import RunResult
from jdcdn_action.settings_table import BY_NAME, SETTINGS
from jdcdn_action.urls import UrlPlan
from tests.helpers import ROOT

# The contract beside the clone, where there is one (CI has it; the package never reads it).
CONTRACT = ROOT.parent / "shared" / "docs" / "interface.md"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after ``heading``, header excluded."""
    lines = text.splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("#") and rows:
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, f"no table under {heading!r}"
    return rows[2:]  # skip the header and the |---| line


def names_in(cell: str) -> list[str]:
    """`url-count`, `dir-count` -> [url-count, dir-count]."""
    return re.findall(r"`([^`]+)`", cell)


# Where each source keeps its full tables: (settings, OpenAPI settings, outputs) headings.
DOCUMENTED = {
    "docs": (ROOT / "docs" / "settings.md", "## Main settings", "## OpenAPI settings",
             ROOT / "docs" / "outputs.md", "## Step outputs"),
    "contract": (CONTRACT, "## Settings", "## OpenAPI settings", CONTRACT, "## Outputs"),
}
README = ROOT / "README.md"


def documented_settings(path: Path, main: str, openapi: str) -> dict[str, str]:
    """The main settings table, then the OpenAPI settings table (the inputs' order)."""
    text = path.read_text(encoding="utf-8")
    rows = markdown_table(text, main) + markdown_table(text, openapi)
    return {names_in(row[0])[0]: row[1] for row in rows}


def documented_outputs(path: Path, heading: str) -> list[str]:
    rows = markdown_table(path.read_text(encoding="utf-8"), heading)
    return [name for row in rows for name in names_in(row[0])]


def expected_default(cell: str) -> tuple[bool, str]:
    """(required, action.yml default) that a docs/contract default cell stands for."""
    if cell == "required":
        return True, ""
    if cell in ("none", "empty"):
        return False, ""
    literal = re.fullmatch(r"`([^`]*)`", cell)
    # Anything else is computed at run time (report-file): no literal default.
    return False, literal.group(1) if literal else ""


def test_metadata_is_a_docker_action_built_from_the_dockerfile():
    meta = action()
    assert meta["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert meta["name"] and meta["description"] and meta["author"]
    assert meta["branding"]["icon"] and meta["branding"]["color"]
    for kind in ("inputs", "outputs"):
        for name, spec in meta[kind].items():
            assert spec.get("description", "").strip(), f"{kind} {name} has no description"


def test_inputs_are_the_commands_settings_with_the_same_defaults_and_meanings():
    inputs = action()["inputs"]
    assert list(inputs) == [setting.name for setting in SETTINGS]
    for setting in SETTINGS:
        spec = inputs[setting.name]
        assert isinstance(spec.get("default", ""), str), f"{setting.name}: quote the default"
        assert spec.get("default", "") == setting.default, setting.name
        assert spec["description"] == setting.help, setting.name
        # the command checks what the chosen API needs
        assert spec.get("required", False) is False, setting.name


@pytest.mark.parametrize("source", DOCUMENTED)
def test_documented_settings_match_the_inputs(source):
    path, main, openapi, _, _ = DOCUMENTED[source]
    if not path.is_file():
        pytest.skip("the interface contract is not beside this clone")
    documented = documented_settings(path, main, openapi)
    inputs = action()["inputs"]
    assert list(documented) == list(inputs)
    for name, cell in documented.items():
        required, default = expected_default(cell)
        assert inputs[name].get("required", False) is required, name
        assert inputs[name].get("default", "") == default, f"{name}: {cell}"


def test_the_readmes_settings_summary_agrees_with_the_table():
    """The README lists the settings used most, by hand: each is a setting, with the
    table's default."""
    rows = markdown_table(README.read_text(encoding="utf-8"), "## Settings")
    assert len(rows) >= 5
    for row in rows:
        names = names_in(row[0])
        assert names, row
        for name in names:
            assert name in BY_NAME, f"README's settings summary: no setting {name!r}"
            assert row[1] == BY_NAME[name].default_cell, f"README's default of {name}"


@pytest.mark.parametrize("source", [*DOCUMENTED, "README.md"])
def test_documented_outputs_are_the_declared_and_written_outputs(source):
    path, heading = (README, "## Outputs") if source == "README.md" else DOCUMENTED[source][3:]
    if not path.is_file():
        pytest.skip("the interface contract is not beside this clone")
    declared = list(action()["outputs"])
    written = list(output_values(RunResult(plan=UrlPlan((), ()), batches=[]), "r.json"))
    assert documented_outputs(path, heading) == declared
    assert sorted(written) == sorted(declared)


def runner_env(given: dict[str, str]) -> dict[str, str]:
    """INPUT_* as the runner sets them: every input present, defaults filled in."""
    return {f"INPUT_{name.upper()}": given.get(name, spec.get("default", ""))
            for name, spec in action()["inputs"].items()}


def test_the_runners_filled_in_defaults_mean_what_no_setting_means():
    from_runner = settings_mod.load([], runner_env({"dry-run": "true"}))
    from_nothing = settings_mod.load(["--dry-run"], {})
    assert from_runner == from_nothing


def test_runner_inputs_reach_the_command_hyphens_and_all(run_cli, fake_jd):
    env = runner_env({"username": "jcloud_test", "secret-key": "s3cr3t-KEY-0123456789abcdef",
                      "api-endpoint": fake_jd.endpoint, "base-url": "https://www.example.com/",
                      "paths": "a.css\nimg/", "timeout": "5"})
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    assert run.json_output("urls") == ["https://www.example.com/a.css"]
    assert run.json_output("dirs") == ["https://www.example.com/img/"]
    assert len(fake_jd.accepted()) == 2


@pytest.mark.parametrize("missing", ["username", "secret-key"])
def test_the_action_checks_its_required_inputs(run_cli, fake_jd, missing):
    given = {"username": "jcloud_test", "secret-key": "s3cr3t-KEY-0123456789abcdef",
             "api-endpoint": fake_jd.endpoint, "base-url": "https://www.example.com/",
             "paths": "a.css"}
    del given[missing]
    run = run_cli(env=runner_env(given), github=True)
    assert run.code == 2
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and missing in errors[0]
    assert fake_jd.calls == []


# -- the repository's own workflows ----------------------------------------------------------
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)", re.MULTILINE)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pin_actions_by_commit(workflow):
    for ref in USES.findall(workflow.read_text(encoding="utf-8")):
        if ref.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), \
            f"{workflow.name}: pin {ref} by its commit SHA"


def run_scripts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["run"]] if isinstance(node.get("run"), str) else []
        return found + [s for value in node.values() for s in run_scripts(value)]
    if isinstance(node, list):
        return [s for item in node for s in run_scripts(item)]
    return []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_scripts_take_values_from_env_not_expressions(workflow):
    """``${{ }}`` in a script is pasted into the shell before it runs: script injection."""
    scripts = run_scripts(yaml.safe_load(workflow.read_text(encoding="utf-8")))
    assert scripts, f"{workflow.name} has no run: steps"
    for script in scripts:
        assert "${{" not in script, f"{workflow.name}: pass values via env:\n{script}"


def test_only_the_release_may_write_packages():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}
    for workflow in WORKFLOWS:
        text = workflow.read_text(encoding="utf-8")
        assert ("packages: write" in text) is (workflow.name == "release.yml"), workflow.name
        assert "permissions:" in text, f"{workflow.name}: declare least permissions"


def test_ci_uses_the_action_from_the_repository_in_dry_run():
    jobs = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]
    steps = [step for job in jobs.values() for step in job.get("steps", [])
             if step.get("uses") == "./"]
    assert steps and all(str(step["with"]["dry-run"]).lower() == "true" for step in steps)
