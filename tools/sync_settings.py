"""Write the one table of settings (jdcdn_action/settings_table.py) where it is shown.

    python tools/sync_settings.py          # rewrite action.yml, the component, the docs
    python tools/sync_settings.py --check  # change nothing; exit 1 naming what drifted

action.yml's ``inputs:`` block is rewritten whole. In the GitLab component
(templates/refresh.yml), the lines between ``# settings-table: inputs`` (or ``variables``)
and ``# settings-table: end`` are: its ``spec: inputs`` for every setting but the
credentials, and the job's ``JDCDN_*`` variables made of them. In the Markdown pages of
``DOCS`` (docs/settings.md), the rows between ``<!-- settings-table: main -->`` (or
``openapi``) and ``<!-- settings-table: end -->`` are. tests/test_settings_table.py runs
the check, so a hand edit that drifts fails CI.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jdcdn_action.settings_table import (  # noqa: E402
    CREDENTIALS,
    OPENAPI_SETTINGS,
    SETTINGS,
    Setting,
)

ACTION = ROOT / "action.yml"
COMPONENT = ROOT / "templates" / "refresh.yml"
DOCS = (ROOT / "docs" / "settings.md",)
TABLE = re.compile(r"(<!-- settings-table: (main|openapi) -->\n)(.*?)(<!-- settings-table: end"
                   r" -->)", re.S)
REGION = re.compile(r"^(?P<indent>[ ]*)(?P<start># settings-table: (?P<name>inputs|variables)\n)"
                    r"(?P<body>.*?)(?P<end>^[ ]*# settings-table: end$)", re.S | re.M)
# GitLab's input types, by the table's kinds. Lists and paths are strings, one item per
# line: a string input is data wherever it is interpolated, while an array input can only
# stand for a whole YAML node, never for a variable's value.
INPUT_TYPES = {"bool": "boolean", "int": "number", "float": "number"}


def action_inputs() -> str:
    """action.yml's ``inputs:`` block: every setting, none required (the command checks
    what the chosen API needs), the default as the table has it."""
    lines = ["inputs:"]
    for setting in SETTINGS:
        if setting.name == OPENAPI_SETTINGS[0]:
            lines.append("  # JD Cloud's OpenAPI: access keys instead of username and secret-key.")
        lines += [f"  {setting.name}:", "    description: >-"]
        lines += textwrap.wrap(setting.help, 88, initial_indent="      ",
                               subsequent_indent="      ", break_on_hyphens=False)
        lines += ["    required: false", f"    default: {json.dumps(setting.default)}"]
    return "\n".join(lines) + "\n"


def component_settings() -> list[Setting]:
    """The settings that are inputs of the component: all but the credentials."""
    return [s for s in SETTINGS if s.name not in CREDENTIALS]


def input_default(setting: Setting) -> bool | int | float | str:
    """The default as a typed input holds it: a boolean or number for those kinds (GitLab
    refuses ``"false"`` as a boolean input's default)."""
    if setting.kind == "bool":
        return setting.default == "true"
    if setting.kind in ("int", "float"):
        number = float(setting.default)
        return int(number) if number.is_integer() else number
    return setting.default


def component_inputs(indent: str) -> str:
    """``spec: inputs`` entries for the component's settings, each with the table's meaning
    and default, a type where the setting has one and ``options`` for a closed set."""
    lines = []
    for setting in component_settings():
        lines += [f"{indent}{setting.name}:", f"{indent}  description: >-"]
        lines += textwrap.wrap(setting.help, 88, initial_indent=indent + "    ",
                               subsequent_indent=indent + "    ", break_on_hyphens=False)
        if setting.kind in INPUT_TYPES:
            lines.append(f"{indent}  type: {INPUT_TYPES[setting.kind]}")
        if setting.choices:
            lines.append(f"{indent}  options: [{', '.join(setting.choices)}]")
        lines.append(f"{indent}  default: {json.dumps(input_default(setting))}")
    return "\n".join(lines) + "\n"


def component_variables(indent: str) -> str:
    """The job's ``JDCDN_*`` variables, one per input. A whole-value interpolation keeps a
    boolean or number input's type; GitLab writes it as text into the job's variable."""
    return "".join(f'{indent}{s.env_variable}: "$[[ inputs.{s.name} ]]"\n'
                   for s in component_settings())


def component_regions(text: str) -> str:
    """The component with its two regions rewritten. Refuses a component without exactly
    those two (a lost marker would otherwise leave its settings unchecked)."""
    if sorted(m["name"] for m in REGION.finditer(text)) != ["inputs", "variables"]:
        raise ValueError(f"{COMPONENT.name}: expected one '# settings-table: inputs' and one "
                         "'# settings-table: variables' region, each closed by "
                         "'# settings-table: end'")
    writers = {"inputs": component_inputs, "variables": component_variables}
    return REGION.sub(lambda m: m["indent"] + m["start"] + writers[m["name"]](m["indent"])
                      + m["end"], text)


def table_rows(settings: list[Setting]) -> str:
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for setting in settings:
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | {setting.default_cell} | {meaning} |")
    return "\n".join(rows) + "\n"


def docs_tables(text: str) -> str:
    """The page with its two tables rewritten. Refuses a page without exactly those two (a
    lost marker would otherwise leave its table unchecked)."""
    if sorted(m.group(2) for m in TABLE.finditer(text)) != ["main", "openapi"]:
        raise ValueError("expected one '<!-- settings-table: main -->' and one "
                         "'<!-- settings-table: openapi -->' table, each closed by "
                         "'<!-- settings-table: end -->'")
    groups = {
        "main": [s for s in SETTINGS if s.name not in OPENAPI_SETTINGS],
        "openapi": [s for s in SETTINGS if s.name in OPENAPI_SETTINGS],
    }
    return TABLE.sub(lambda m: m.group(1) + table_rows(groups[m.group(2)]) + m.group(4), text)


def synced(path: Path) -> str:
    """What ``path`` should hold."""
    text = path.read_text(encoding="utf-8")
    if path == ACTION:
        start = text.index("\ninputs:\n") + 1
        end = text.index("\noutputs:\n")
        return text[:start] + action_inputs() + text[end:]
    if path == COMPONENT:
        return component_regions(text)
    return docs_tables(text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drifted = []
    for path in (ACTION, COMPONENT, *DOCS):
        want = synced(path)
        if want != path.read_text(encoding="utf-8"):
            drifted.append(path.relative_to(ROOT).as_posix())
            if not check:
                path.write_text(want, encoding="utf-8")
    if check and drifted:
        print(f"not in step with jdcdn_action/settings_table.py: {', '.join(drifted)}; run "
              "python tools/sync_settings.py", file=sys.stderr)
        return 1
    for name in drifted:
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
