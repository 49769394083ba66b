"""The README and the pages of docs/: links, length, and examples that agree with the code.

The README is a short front door; the depth is in docs/, one page per concern. Every
relative link and ``#anchor`` must resolve (anchors as GitHub makes them from headings),
every page must be reachable from the README, and the examples may only use inputs,
outputs, component inputs and ``JDCDN_*`` variables that exist. The examples themselves
run under the runner emulators: the README's workflow in tests/test_runner_act.py, its
component include in tests/test_runner_component.py, the plain GitLab job of
docs/gitlab.md in tests/test_runner_gitlab.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from jdcdn_action.settings_table import CREDENTIALS, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
# [text](target) or ![alt](target); the text may hold one level of brackets and line breaks.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def split_fences(text: str) -> tuple[list[str], list[str]]:
    """(prose lines, code lines): the lines outside and inside fenced code blocks."""
    prose, code, inside = [], [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        (code if inside else prose).append(line)
    return prose, code


def slug(heading: str) -> str:
    """The anchor GitHub makes of a heading: links reduced to their text, lower case,
    punctuation dropped (letters, digits, ``_``, ``-`` and spaces stay), spaces to ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a page's headings; a repeated heading gets ``-1``, ``-2``, ..."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in split_fences(path.read_text(encoding="utf-8"))[0]:
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path: Path) -> list[str]:
    """The targets of every link in a page's prose (not in code)."""
    prose = "\n".join(split_fences(path.read_text(encoding="utf-8"))[0])
    return LINK.findall(CODE_SPAN.sub("", prose))


def broken_links(path: Path) -> list[str]:
    """Each relative link of ``path`` whose file, or whose anchor, does not exist."""
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor} in {page_id(resolved)}")
    return broken


# -- links -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_and_anchor_resolves(page):
    assert links(page) or page != README
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_found(tmp_path, monkeypatch):
    """The check itself: a missing page, a missing anchor, a link that leaves the
    repository, and links in code that are not links."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Today's quota (`x`)\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md#todays-quota-x) [ok](#top) [web](https://example.com/x)\n"
                    "# Top\n`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
                    "[gone](docs/b.md) [bad anchor](docs/a.md#todays-quota)\n"
                    "[a two-line\nlink](#nothing) [out](../outside.md)\n")
    assert broken_links(page) == [
        "docs/b.md: no such file",
        "docs/a.md#todays-quota: no heading #todays-quota in docs/a.md",
        "#nothing: no heading #nothing in README.md",
        "../outside.md: no such file"]


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Today's quota (OpenAPI)", "todays-quota-openapi"),
    ("Refreshing what changed (`git-diff`)", "refreshing-what-changed-git-diff"),
    ("Releases: a prebuilt image, no build in every job",
     "releases-a-prebuilt-image-no-build-in-every-job"),
    ("Any other CI, or a shell", "any-other-ci-or-a-shell"),
    ("[Settings](x.md) and more", "settings-and-more"),
])
def test_anchors_are_made_as_github_makes_them(heading, anchor):
    assert slug(heading) == anchor


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links(README)}
    assert [page_id(p) for p in DOCS if p.resolve() not in linked] == []


# -- the README as a front door ----------------------------------------------------------------
def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_shows_the_action_on_its_first_screen():
    lines = README.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if "uses: your-org/jdcdn-action@" in line)
    assert first < 60, f"the first uses: of the action is on line {first + 1}"


def test_the_readme_names_the_test_command_ci_runs_and_links_the_changelog():
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if line.strip().startswith("python -m pytest")]
    assert ci_commands, ".ci/run runs no tests"
    text = README.read_text(encoding="utf-8")
    development = text[text.index("\n## Development\n"):]
    for command in ci_commands:
        assert f"\n{command}\n" in development, f"README's Development lacks {command!r}"
    assert "CHANGELOG.md" in links(README)


def test_the_gitlab_page_includes_the_component_as_the_readme_does():
    def include(path: Path, heading: str) -> dict:
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(YAML_BLOCK.search(text, text.index(heading)).group(1))

    assert include(ROOT / "docs" / "gitlab.md", "# GitLab CI") == include(README,
                                                                           "## GitLab CI")


# -- the examples use what exists ---------------------------------------------------------------
def yaml_examples() -> list[tuple[str, object]]:
    return [(page_id(page), yaml.safe_load(block))
            for page in PAGES for block in YAML_BLOCK.findall(page.read_text(encoding="utf-8"))]


def walk(node: object):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(
        node, list) else ()
    for child in children:
        yield from walk(child)


def test_every_yaml_example_parses():
    assert len(yaml_examples()) >= 10  # each parsed, or yaml raised


def test_action_steps_in_examples_give_only_its_inputs():
    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["inputs"])
    steps = [(page, node) for page, example in yaml_examples() for node in walk(example)
             if isinstance(node, dict) and "jdcdn-action" in str(node.get("uses", ""))]
    assert len(steps) >= 5
    for page, step in steps:
        assert set(step.get("with", {})) <= inputs, (page, step)


def test_outputs_read_in_examples_are_the_actions_outputs():
    outputs = set(yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["outputs"])
    read = {(page_id(page), name) for page in PAGES for name in re.findall(
        r"steps\.[\w-]+\.outputs\.([\w-]+)", page.read_text(encoding="utf-8"))}
    assert read and {name for _, name in read} <= outputs, read


def test_component_includes_in_examples_give_only_its_inputs():
    spec = next(yaml.safe_load_all((ROOT / "templates" / "refresh.yml").read_text(
        encoding="utf-8")))["spec"]["inputs"]
    includes = [(page, item) for page, example in yaml_examples() for node in walk(example)
                if isinstance(node, dict) for item in node.get("include", []) or []
                if isinstance(item, dict) and "component" in item]
    assert includes
    for page, item in includes:
        assert set(item.get("inputs", {})) <= set(spec), (page, item)
        assert not set(item.get("inputs", {})) & set(CREDENTIALS), (page, item)


def test_jdcdn_variables_named_in_the_docs_exist():
    """Each ``JDCDN_*`` name a page mentions is a setting's variable or one the code (or,
    for development, the tests) reads or writes."""
    known = {s.env_variable for s in SETTINGS}
    for source in [*(ROOT / "jdcdn_action").rglob("*.py"), *(ROOT / "tests").glob("*.py")]:
        if source.name != Path(__file__).name:
            known |= set(re.findall(r"JDCDN_[A-Z0-9_]*[A-Z0-9]", source.read_text("utf-8")))
    named = {(page_id(page), name) for page in PAGES for name in re.findall(
        r"JDCDN_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8"))}
    assert [pair for pair in sorted(named) if pair[1] not in known] == []
