"""YAML in `paths` and `paths-file`: values built from parser events, never a graph.

Anchors and aliases are refused at the first one (a "billion laughs" document must not be
expanded), nesting deeper than a paths list needs is refused where it starts, and every
accepted shape reads the same with libyaml and with PyYAML's pure parser.
"""

from __future__ import annotations

import re

import pytest
import yaml

from jdcdn_action.entries import parse_paths, read_paths_file
from jdcdn_action.exceptions import InputError
from jdcdn_action.yamltext import load_yaml


def laughs(levels: int = 11, mapping: bool = False) -> str:
    """&a0 [9 x "lol"], then ``levels`` levels of [9 x *a(n-1)]: 9^11 strings expanded."""
    lead = "a{}: " if mapping else "- "
    lines = [lead.format(0) + "&a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [lead.format(n) + f"&a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]"
              for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["libyaml", "pure"])
def loader(request, monkeypatch):
    """Run a test with libyaml's parser, then with PyYAML's pure one."""
    if request.param == "pure":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml")
    return request.param


# -- anchors and aliases ---------------------------------------------------------------------
@pytest.mark.parametrize("text, name", [
    ("- &a a.css\n- *a\n", "&a at line 1"),
    ("[a.css, &b b.css, *b]", "&b at line 1"),
    ("files:\n  - a.css\n  - &only b.css\n", "&only at line 3"),  # an anchor alone
    ("files: &f [a.css]\ndirs: *f\n", "&f at line 1"),
    ("dirs: [x/]\nfiles: *f\n", "*f at line 2"),  # an alias of nothing
    (laughs(levels=2), "&a0 at line 1"),  # the whole document: see the subprocess test
])
def test_anchors_and_aliases_are_refused_at_the_first(loader, text, name):
    with pytest.raises(InputError, match="anchors and aliases are not accepted") as refused:
        load_yaml(text, "paths")
    assert name in str(refused.value)


def test_names_with_ampersand_or_star_inside_are_names(loader):
    assert load_yaml("- a&b.html\n- '*.css'\n- \"&x\"\n", "paths") == [
        "a&b.html", "*.css", "&x"]


def test_a_billion_laughs_paths_file_is_refused_in_a_subprocess(run_cli, fake_jd, jd_env,
                                                                tmp_path):
    """The whole command, as a user runs it; the timeout only keeps a regression from
    hanging the suite (before the fix this ran for minutes at full CPU)."""
    path = tmp_path / "paths.yml"
    path.write_text(laughs())
    for env in ({"JDCDN_PATHS_FILE": str(path)}, {"JDCDN_PATHS": laughs(mapping=True)}):
        run = run_cli(env=jd_env | env, subprocess_run=True, timeout=60)
        assert run.code == 2, run.log
        assert "anchors and aliases are not accepted (&a0 at line 1)" in run.stderr
        assert len(run.stderr.splitlines()) == 1 and not fake_jd.calls


# -- nesting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "[" * 20_000,
    "[" * 20_000 + "a" + "]" * 20_000,
    # what follows the nesting is never reached: its syntax error is not the verdict
    "[" * 20_000 + "a" + "]" * 20_000 + "\n" + "- x\n" * 100_000 + "]]: : {",
    "- " * 3000 + "a\n",
    "files:\n" + "  " * 30 + "- " * 25 + "a\n",
])
def test_deep_nesting_is_refused_where_it_starts(loader, text):
    with pytest.raises(InputError, match=r"^paths: the YAML is nested too deeply \(line [12]\)"):
        load_yaml(text, "paths")


def test_twenty_levels_are_still_read(loader):
    text = "[" * 20 + "a" + "]" * 20
    value = load_yaml(text, "paths")
    for _ in range(20):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == "a"


# -- the accepted shapes read the same with either parser --------------------------------------
@pytest.mark.parametrize("text, value", [
    ("- a.css\n- 'b c.js'\n- \"404\"\n- !!str 500\n", ["a.css", "b c.js", "404", "500"]),
    ("files:\n  - a.css\ndirs: [img/, 'x: y/']\n",
     {"files": ["a.css"], "dirs": ["img/", "x: y/"]}),
    ("[]", []),
    ("files: []\n", {"files": []}),
    ("- 404\n- yes\n- ~\n- 1.5\n", [404, True, None, 1.5]),
    ("---\n- a\n...\n", ["a"]),
    ("# only a comment\n", None),
    ("- [a, [b]]\n- {c: d}\n", [["a", ["b"]], {"c": "d"}]),
])
def test_shapes_read_the_same_with_either_parser(loader, text, value):
    assert load_yaml(text, "paths") == value


@pytest.mark.parametrize("text, message", [
    ("files: [a]\nfiles: [b]\n", "the key 'files' is given twice (line 2)"),
    ("? [a]\n: b\n", "a key at line 1 is a list"),
    ("{[a]: b}", "a key at line 1 is a list"),
    ("- a\n---\n- b\n", "a second document"),
    ("- !foo a\n", "malformed YAML"),
    ("- a\n- [b\n", "malformed YAML at line"),
])
def test_bad_shapes_name_the_problem(loader, text, message):
    with pytest.raises(InputError) as refused:
        load_yaml(text, "paths")
    assert str(refused.value).startswith("paths: ") and message in str(refused.value)


def test_paths_and_paths_file_refuse_alike(tmp_path):
    path = tmp_path / "paths.yml"
    path.write_text("- &a a.css\n- *a\n")
    with pytest.raises(InputError, match=re.escape(f"paths-file {path}: YAML anchors")):
        read_paths_file(str(path))
    with pytest.raises(InputError, match=r"^paths: YAML anchors"):
        parse_paths("- &a a.css\n- *a\n")
