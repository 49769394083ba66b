"""Write the one table of settings (jdcdn_action/settings_table.py) where it is shown.

    python tools/sync_settings.py          # rewrite action.yml's inputs and the docs' tables
    python tools/sync_settings.py --check  # change nothing; exit 1 naming what drifted

action.yml's ``inputs:`` block is rewritten whole. In Markdown files, the rows between
``<!-- settings-table: main -->`` (or ``openapi``) and ``<!-- settings-table: end -->``
are. tests/test_settings_table.py runs the check, so a hand edit that drifts fails CI.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jdcdn_action.settings_table import OPENAPI_SETTINGS, SETTINGS, Setting  # noqa: E402

ACTION = ROOT / "action.yml"
DOCS = (ROOT / "README.md",)
TABLE = re.compile(r"(<!-- settings-table: (main|openapi) -->\n)(.*?)(<!-- settings-table: end"
                   r" -->)", re.S)


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


def table_rows(settings: list[Setting]) -> str:
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for setting in settings:
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | {setting.default_cell} | {meaning} |")
    return "\n".join(rows) + "\n"


def docs_tables(text: str) -> str:
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
    return docs_tables(text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drifted = []
    for path in (ACTION, *DOCS):
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
