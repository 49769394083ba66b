"""What the user wrote is what gets refreshed: through the command, against the fake JD.

Each case is input that 0.1.0 turned into other URLs than the user meant, with exit 0:
a mapping in ``paths``, a base URL or ``.`` taken for a directory refresh of the whole
site, a URL written two ways refreshed twice, a name split at U+2028.
"""

from __future__ import annotations

import pytest

from tests.helpers import BASE


def refresh(run_cli, jd_env, paths: str, **extra: str):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": paths} | extra, github=True)
    assert run.code == 0, run.log
    return run


def test_the_paths_file_mapping_shape_works_in_paths(run_cli, fake_jd, jd_env):
    run = refresh(run_cli, jd_env, "files:\n  - a.html\n  - b c.html\ndirs:\n  - docs\n")
    assert fake_jd.refreshed("file") == {BASE + "a.html", BASE + "b%20c.html"}
    assert fake_jd.refreshed("dir") == {BASE + "docs/"}
    assert run.json_output("urls") == [BASE + "a.html", BASE + "b%20c.html"]


@pytest.mark.parametrize("entry", ["https://www.example.com", ".", "docs/..", "/."])
def test_the_site_itself_is_a_file_url_unless_a_slash_was_written(
        run_cli, fake_jd, jd_env, entry):
    run = refresh(run_cli, jd_env, entry)
    assert run.json_output("urls") == [BASE]
    assert run.json_output("dirs") == []  # no directory of the daily 50 is spent
    assert fake_jd.refreshed("dir") == set()


@pytest.mark.parametrize("entry", ["/", "https://www.example.com/"])
def test_a_written_trailing_slash_is_a_directory(run_cli, fake_jd, jd_env, entry):
    run = refresh(run_cli, jd_env, entry)
    assert run.json_output("dirs") == [BASE]


def test_one_url_written_two_ways_is_one_url(run_cli, fake_jd, jd_env):
    run = refresh(run_cli, jd_env, "HTTPS://WWW.Example.COM/a.css\n"
                                   "https://www.example.com/a.css\n"
                                   "https://www.example.com:443/b.css\n")
    assert run.json_output("urls") == [BASE + "a.css", "https://www.example.com:443/b.css"]


def test_an_international_host_becomes_idna(run_cli, fake_jd, jd_env):
    run = refresh(run_cli, jd_env, "https://Bücher.example/ä.html\n"
                                   "https://xn--bcher-kva.example/%C3%A4.html",
                  JDCDN_DRY_RUN="true")  # the fake has no such domain
    assert run.json_output("urls") == ["https://xn--bcher-kva.example/%C3%A4.html"]


def test_a_line_separator_inside_a_name_stays_in_the_name(run_cli, fake_jd, jd_env):
    run = refresh(run_cli, jd_env, "a\u2028b.html\nz.html")
    assert run.json_output("urls") == [BASE + "a%E2%80%A8b.html", BASE + "z.html"]


@pytest.mark.parametrize("value, expected", [
    ("none", []), ("NONE", []), ("index.html\nnone", [BASE + "docs/"]),
])
def test_index_files_none_turns_the_rule_off(run_cli, fake_jd, jd_env, value, expected):
    # "none" is the word, not a file name: docs/none is no index file either.
    run = refresh(run_cli, jd_env, "docs/index.html\ndocs/none", JDCDN_INDEX_FILES=value)
    assert run.json_output("urls") == sorted([BASE + "docs/index.html", BASE + "docs/none",
                                              *expected])


def test_base_url_host_is_lower_cased_too(run_cli, fake_jd, jd_env):
    run = refresh(run_cli, jd_env, "a.css", JDCDN_BASE_URL="HTTPS://WWW.EXAMPLE.COM/Static/")
    assert run.json_output("urls") == ["https://www.example.com/Static/a.css"]
