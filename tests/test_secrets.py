"""The key and its signatures never appear, with debugging on, whatever the run does.

run_cli checks stdout, stderr, GITHUB_OUTPUT, the summary, the report and the dotenv file
of every run for the fixture secret and every signature derived from it; these scenarios
make sure that check sees debug output of every stage.
"""

from __future__ import annotations

import pytest

from tests.fake_jd import Fault
from tests.gitrepo import Repo

DEBUG = {"RUNNER_DEBUG": "1", "JDCDN_DEBUG": "true"}

SCENARIOS = {
    "sent-after-retries": ({"JDCDN_PATHS": "a.css\nb/"},
                           [Fault("http", code=500), Fault("jd", status=8)]),
    "signature-rejected": ({"JDCDN_PATHS": "a.css", "JDCDN_SIGNATURE_TIMEZONE": "-12:00"}, []),
    "permanent-failure": ({"JDCDN_PATHS": "a.css"}, [Fault("jd", status=15)]),
    "wait-and-prefetch": ({"JDCDN_PATHS": "a.css\nb.css", "JDCDN_WAIT": "true",
                           "JDCDN_PREFETCH": "true", "JDCDN_POLL_INTERVAL": "0.05"}, []),
    "dry-run": ({"JDCDN_PATHS": "a.css", "JDCDN_DRY_RUN": "true"}, []),
    "bad-input": ({"JDCDN_PATHS": "../x"}, []),
}


@pytest.mark.parametrize("where", ["github", "gitlab"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_secret_with_debug_on(run_cli, fake_jd, jd_env, where, name):
    env, faults = SCENARIOS[name]
    fake_jd.script("/api/refresh", *faults)
    run = run_cli(["--debug"], env=jd_env | DEBUG | env, github=where == "github",
                  gitlab=where == "gitlab")
    assert run.code in (0, 1, 2)
    if name not in ("dry-run", "bad-input"):
        assert "signature=***" in run.log  # the debug lines were there to be checked


def test_no_secret_with_debug_on_in_a_git_diff_run(run_cli, fake_jd, jd_env, tmp_path):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    base = repo.commit("one", "index.html")
    repo.commit("two", "docs/index.html")
    run = run_cli(["--debug"], cwd=repo.path, github=True,
                  env=jd_env | DEBUG | {"JDCDN_GIT_DIFF": "true", "JDCDN_GIT_BASE": base})
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == {"https://www.example.com/docs/index.html",
                                   "https://www.example.com/docs/"}
