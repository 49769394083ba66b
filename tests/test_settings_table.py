"""The one table of settings, and everything derived from it.

action.yml's inputs, the GitLab component's inputs and variables (templates/refresh.yml)
and the settings tables of docs/settings.md are written from the table by
tools/sync_settings.py: these tests fail when any drifts, and hold the command's flags,
spellings and defaults to the table. tests/test_component.py holds the component's inputs
to the table field by field.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from jdcdn_action import settings as settings_mod
from jdcdn_action.settings_table import BY_NAME, CREDENTIALS, SECRETS, SETTINGS
from tests.helpers import ROOT


def sync_tool():
    spec = importlib.util.spec_from_file_location("sync_settings", ROOT / "tools" /
                                                  "sync_settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_action_yml_and_the_docs_are_written_from_the_table(capsys):
    assert sync_tool().main(["--check"]) == 0, capsys.readouterr().err


def test_a_hand_edited_docs_row_is_drift():
    tool = sync_tool()
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    edited = text.replace("| `timeout` | `30` |", "| `timeout` | `60` |", 1)
    assert edited != text
    assert tool.docs_tables(edited) == text


def test_a_docs_page_without_its_tables_is_refused():
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    lost = text.replace("<!-- settings-table: openapi -->", "<!-- openapi -->", 1)
    assert lost != text
    with pytest.raises(ValueError, match="settings-table: openapi"):
        sync_tool().docs_tables(lost)


def test_a_hand_edited_input_is_drift():
    tool = sync_tool()
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert tool.action_inputs() in text
    assert tool.action_inputs().replace('default: "30"', 'default: "60"') not in text


@pytest.mark.parametrize(("old", "new"), [
    ("      default: 30\n", "      default: 60\n"),                       # timeout
    ("      type: boolean\n      default: false\n", "      default: \"false\"\n"),
    ('    JDCDN_WAIT: "$[[ inputs.wait ]]"\n', ""),                          # a lost setting
])
def test_a_hand_edited_component_is_drift(old, new):
    tool = sync_tool()
    text = (ROOT / "templates" / "refresh.yml").read_text(encoding="utf-8")
    edited = text.replace(old, new, 1)
    assert edited != text
    assert tool.component_regions(edited) == text


def test_a_component_without_its_regions_is_refused():
    text = (ROOT / "templates" / "refresh.yml").read_text(encoding="utf-8")
    lost = text.replace("# settings-table: variables", "# variables", 1)
    with pytest.raises(ValueError, match="settings-table: variables"):
        sync_tool().component_regions(lost)


def test_every_setting_is_a_settings_field_and_its_default_loads():
    fields = {f.name for f in dataclasses.fields(settings_mod.Settings)}
    assert {s.dest for s in SETTINGS} <= fields
    loaded = settings_mod.load(["--dry-run"], {})
    for setting in SETTINGS:
        if setting.kind in ("bool", "int", "float", "choice"):
            value = settings_mod.convert(setting.name, setting.default)
            if setting.name == "dry-run":
                value = True
            if setting.name == "api":
                value = "legacy"  # auto, with no credentials, in a dry run
            assert getattr(loaded, setting.dest) == value, setting.name


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_setting_has_three_spellings_in_that_order(setting):
    value, other = {"bool": ("true", "false"), "int": ("3", "4"), "float": ("3", "4"),
                    "choice": setting.choices[-1:] + setting.choices[:1],
                    "list": ("https://a.example/", "https://b.example/"),
                    "text": ("a.css", "b.css"), "str": ("x", "y")}[setting.kind]
    flag = [f"--{setting.name}" if setting.kind == "bool" else f"--{setting.name}={value}"]
    argv_wins, _, _ = settings_mod.raw_values(flag, {setting.input_variable: other})
    input_wins, _, _ = settings_mod.raw_values([], {setting.input_variable: f" {value} ",
                                                    setting.env_variable: other})
    env_only, _, _ = settings_mod.raw_values([], {setting.input_variable: "  ",
                                                  setting.env_variable: value})
    assert argv_wins[setting.name] == input_wins[setting.name] == env_only[
        setting.name] == value


def test_secrets_and_credentials():
    assert SECRETS == ("secret-key", "access-key-secret", "security-token")
    assert set(CREDENTIALS) == {"username", "access-key-id", *SECRETS}


def test_closed_sets_and_ranges_come_from_the_table():
    from jdcdn_action.exceptions import InputError

    with pytest.raises(InputError, match=r"^type: 'folder' is not one of auto, file, dir\.$"):
        settings_mod.load(["--dry-run", "--type", "folder"], {})
    top = BY_NAME["concurrency"].maximum
    with pytest.raises(InputError, match=r"^concurrency: 33 is out of range; use between 1 "
                                          r"and 32\.$"):
        settings_mod.load(["--dry-run", "--concurrency", str(int(top) + 1)], {})
