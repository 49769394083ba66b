"""Hostile file names in a git diff cannot inject workflow commands or outputs."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.gitrepo import Repo
from tests.helpers import parse_github_output

HOSTILE = [
    "::error::x.html",
    "::add-mask::.css",
    "::stop-commands::token.js",
    "##[error]legacy.js",
    "$(whoami).html",
    "%0A::warning::encoded.txt",
    "EOF",
    "ghadelimiter_00000000-0000-0000-0000-000000000000",
    "line\n::error::injected.html",
    "cr\r::notice::x.html",
    "name<<EOF",
    "task-id=evil",
]
OUR_COMMANDS = re.compile(r"^::(add-mask|error|warning|notice|debug|group|endgroup)[ :]")


@pytest.mark.parametrize("dry_run", [False, True], ids=["sent", "dry-run"])
def test_hostile_names_stay_data(run_cli, jd_env, fake_jd, tmp_path, dry_run):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    base = repo.commit("base", "index.html")
    for name in HOSTILE:
        repo.write(f"site/{name}", "x\n")
    repo.commit("hostile")
    env = jd_env | {"JDCDN_GIT_DIFF": "true", "JDCDN_GIT_BASE": base,
                    "JDCDN_SOURCE_DIR": "site", "JDCDN_DRY_RUN": str(dry_run).lower(),
                    "RUNNER_DEBUG": "1"}
    run = run_cli(env=env, cwd=repo.path, github=True)
    assert run.code == 0, run.log

    expected = sorted("https://www.example.com/" + quote(name, safe="/!$&'()*+,;=:@~")
                      for name in HOSTILE)
    # The outputs file parsed as the runner does: exactly our outputs, the names as data.
    assert run.json_output("urls") == expected
    assert set(run.outputs) >= {"task-ids", "urls", "failed", "report-file"}
    assert run.outputs["url-count"] == str(len(HOSTILE))
    if dry_run:
        assert fake_jd.calls == []
    else:
        assert fake_jd.refreshed() == set(expected)

    for line in run.stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith("::"):
            assert OUR_COMMANDS.match(stripped), f"injected command: {line!r}"
            assert ("injected" not in stripped and "encoded" not in stripped) or \
                stripped.startswith("::debug::"), line
        assert "##[" not in line, f"legacy command form in the log: {line!r}"
    # Raw control characters from names never reach the log.
    assert "\r" not in run.stdout


def test_outputs_file_stays_well_formed_with_a_value_holding_delimiter_text(tmp_path):
    from jdcdn_action.outputs import format_github_outputs

    values = {"urls": '["https://x/ghadelimiter_1\\nEOF"]', "task-id": "EOF"}
    assert parse_github_output(format_github_outputs(values)) == values
