"""dir-threshold: which folders become directories, within max-dirs, never above a base URL;
and the budget check (max-urls/max-dirs) before anything is sent."""

from __future__ import annotations

import random

import pytest

from jdcdn_action.budget import collapse, describe, folder_of
from jdcdn_action.entries import Entry
from jdcdn_action.urls import UrlPlan, map_entries
from tests.helpers import BASE, url

# A small site: direct file URLs per folder (with index.html -> its folder URL too):
#   /               index.html, /, about.html                      3
#   assets/         app.js, app.css                                2
#   assets/img/     a..e.png                                       5
#   assets/img/icons/  i1..i3.svg                                  3
#   docs/           index.html, docs/, a.html, b.html              4
#   docs/api/       x.html                                         1
TREE = (["index.html", "about.html", "assets/app.js", "assets/app.css"]
        + [f"assets/img/{c}.png" for c in "abcde"]
        + [f"assets/img/icons/i{n}.svg" for n in (1, 2, 3)]
        + ["docs/index.html", "docs/a.html", "docs/b.html", "docs/api/x.html"])


def plan_of(paths: list[str], bases: tuple[str, ...] = (BASE,), dirs: tuple[str, ...] = ()
            ) -> UrlPlan:
    entries = [Entry(p, "test") for p in paths] + [Entry(d, "test", "dir") for d in dirs]
    return map_entries(entries, bases)


def check_invariants(before: UrlPlan, result, bases, max_dirs: int) -> None:
    """What must hold for any plan, threshold and max-dirs."""
    after = result.plan
    new_dirs = set(after.dirs) - set(before.dirs)
    assert set(before.dirs) <= set(after.dirs)  # the plan's own directories are kept
    assert set(after.files) <= set(before.files)
    assert new_dirs == {c.folder for c in result.folders if c.new_dir}
    if max_dirs:
        assert len(after.dirs) <= max(max_dirs, len(before.dirs))
    for folder in new_dirs:
        assert folder.startswith(tuple(bases)), f"{folder} is above every base URL"
    # Every file URL that left the plan is covered by exactly the folder reported for it.
    chosen = [c.folder for c in result.folders]
    replaced = set(before.files) - set(after.files)
    assert sum(c.files for c in result.folders) == len(replaced)
    for file_url in replaced:
        owners = [f for f in chosen if file_url.startswith(f)]
        assert owners, f"{file_url} was dropped without a directory covering it"
        assert "?" not in file_url
    # No chosen directory is inside another one (that would spend quota twice).
    for a in new_dirs:
        assert not any(a != b and a.startswith(b) for b in after.dirs)


@pytest.mark.parametrize("threshold, dirs, saved", [
    (0, [], 0),
    (5, [], 0),                                       # no folder has more than 5
    (4, ["assets/img/"], 8),                          # img 5 (+ icons 3 below it)
    (3, ["assets/img/", "docs/"], 13),                # docs 4 (+ api 1 below it)
    (2, [""], 18),                                    # the root (3) absorbs everything
])
def test_collapse_choices_on_a_nested_tree(threshold, dirs, saved):
    before = plan_of(TREE)
    assert len(before.files) == 18
    result = collapse(before, (BASE,), threshold, max_dirs=50)
    assert result.plan.dirs == tuple(url(d) for d in dirs)
    assert result.urls_saved == saved
    assert len(result.plan.files) == 18 - saved
    check_invariants(before, result, (BASE,), 50)


def test_deepest_first_within_max_dirs():
    before = plan_of(TREE)
    # Threshold 3 wants img/ (depth 2) and docs/ (depth 1); one directory of room: the deeper.
    result = collapse(before, (BASE,), 3, max_dirs=1)
    assert result.plan.dirs == (url("assets/img/"),)
    assert result.no_room == (url("docs/"),)
    assert url("docs/a.html") in result.plan.files
    # Planned directories use the room first.
    planned = plan_of(TREE, dirs=("blog/",))
    result = collapse(planned, (BASE,), 3, max_dirs=2)
    assert result.plan.dirs == (url("assets/img/"), url("blog/"))
    assert result.no_room == (url("docs/"),)
    full = collapse(planned, (BASE,), 3, max_dirs=1)
    assert full.plan == planned and full.no_room == (url("assets/img/"), url("docs/"))


def test_parent_replaces_chosen_children_without_more_room():
    # icons/ (3) is chosen first, then img/ (5) replaces it: still one directory.
    before = plan_of([p for p in TREE if p.startswith("assets/img/")])
    result = collapse(before, (BASE,), 2, max_dirs=1)
    assert result.plan.dirs == (url("assets/img/"),)
    assert [c.folder for c in result.folders] == [url("assets/img/")]
    check_invariants(before, result, (BASE,), 1)
    # docs/ finds no room after img/, but the root (3) replaces img/ and covers docs/ too.
    before = plan_of(TREE)
    result = collapse(before, (BASE,), 2, max_dirs=1)
    assert result.plan == UrlPlan(files=(), dirs=(BASE,))
    assert result.no_room == () and result.urls_saved == 18


def test_never_above_a_base_url():
    bases = ("https://cdn.example.com/static/",)
    paths = [f"f{n}.js" for n in range(6)]
    siblings = [f"https://cdn.example.com/top{n}.js" for n in range(6)]
    before = plan_of(paths + siblings, bases)
    result = collapse(before, bases, 3, max_dirs=50)
    # The base's own folder may be refreshed as a whole; the host's root (above it) not.
    assert result.plan.dirs == ("https://cdn.example.com/static/",)
    assert set(result.plan.files) == set(siblings)
    check_invariants(before, result, bases, 50)


def test_urls_outside_every_base_and_query_strings_stay_files():
    outside = [f"https://static.example.com/lib/x{n}.js" for n in range(9)]
    queried = [f"https://www.example.com/q/p{n}.js?v=2" for n in range(9)]
    before = plan_of(outside + queried)
    assert collapse(before, (BASE,), 3, max_dirs=50).plan == before
    assert folder_of("https://www.example.com/a/b.js?x=/c/d") is None


def test_index_folder_url_is_covered_by_its_directory():
    before = plan_of(["docs/index.html", "docs/a.html"])
    assert url("docs/") in before.files
    result = collapse(before, (BASE,), 2, max_dirs=50)
    assert result.plan.files == () and result.plan.dirs == (url("docs/"),)
    assert result.folders[0].files == 3


def test_folder_inside_a_planned_directory_costs_nothing():
    before = plan_of([f"a/b/f{n}.js" for n in range(5)], dirs=("a/",))
    result = collapse(before, (BASE,), 3, max_dirs=1)
    assert result.plan.dirs == (url("a/"),) and result.plan.files == ()
    assert result.dirs_added == 0 and result.urls_saved == 5
    assert "inside a planned directory" in "\n".join(describe(result, 3))


def test_several_bases_are_separate_folders():
    bases = (BASE, "https://cdn.example.com/static/")
    before = plan_of([f"js/f{n}.js" for n in range(4)], bases)
    result = collapse(before, bases, 3, max_dirs=50)
    assert result.plan.dirs == ("https://cdn.example.com/static/js/", url("js/"))
    assert result.urls_saved == 8


@pytest.mark.parametrize("seed", range(30))
def test_invariants_on_random_trees(seed):
    rng = random.Random(seed)
    bases = (BASE, "https://cdn.example.com/static/")
    folders = ["", "a/", "a/b/", "a/b/c/", "a/d/", "e/", "e/f/g/", "h/"]
    paths = {rng.choice(folders) + f"n{rng.randrange(40)}.html" for _ in range(rng.randrange(120))}
    extra = [f"https://cdn.example.com/other/{n}.js" for n in range(rng.randrange(8))]
    dirs = tuple(rng.sample(folders[1:], rng.randrange(3)))
    before = plan_of(sorted(paths) + extra, bases, dirs)
    for threshold in (1, 2, 5, 10):
        for max_dirs in (0, 1, 3, 50):
            result = collapse(before, bases, threshold, max_dirs)
            check_invariants(before, result, bases, max_dirs)
            assert result.plan.files == tuple(sorted(result.plan.files))
            # What stayed a file URL is never in a folder over the threshold that had room.
            for folder in {folder_of(f) for f in result.plan.files} - {None}:
                over = sum(1 for f in before.files if folder_of(f) == folder) > threshold
                if over and folder.startswith(bases):
                    assert folder in result.no_room, folder


def test_describe_names_folders_and_savings():
    result = collapse(plan_of(TREE), (BASE,), 3, max_dirs=50)
    lines = describe(result, 3)
    assert lines[0] == ("dir-threshold 3: 2 folders refreshed as directories: 13 file URLs "
                        "saved, 2 directories used.")
    assert lines[1:] == [f"  {url('assets/img/')} (instead of 8 file URLs)",
                         f"  {url('docs/')} (instead of 5 file URLs)"]
    limited = collapse(plan_of(TREE), (BASE,), 3, max_dirs=1)
    assert describe(limited, 3)[-1].startswith(
        "dir-threshold 3: max-dirs left no room for 1 more folder; their files stay file URLs")


# -- end to end --------------------------------------------------------------------------

def test_run_refreshes_collapsed_folders_as_directories(run_cli, fake_jd, jd_env):
    env = jd_env | {"JDCDN_PATHS": "\n".join(TREE), "JDCDN_DIR_THRESHOLD": "3"}
    run = run_cli(env=env, github=True)
    assert run.code == 0, run.log
    assert fake_jd.refreshed("dir") == {url("assets/img/"), url("docs/")}
    assert fake_jd.refreshed("file") == {url(""), url("index.html"), url("about.html"),
                                         url("assets/app.js"), url("assets/app.css")}
    assert run.json_output("dirs") == [url("assets/img/"), url("docs/")]
    assert run.outputs["url-count"] == "5"
    assert "2 folders refreshed as directories: 13 file URLs saved" in run.stdout
    assert f"{url('docs/')} (instead of 5 file URLs)" in run.stdout
    assert "13 file URLs saved" in run.summary


def test_dry_run_shows_the_collapse(run_cli, fake_jd, jd_env):
    env = jd_env | {"JDCDN_PATHS": "\n".join(TREE), "JDCDN_DIR_THRESHOLD": "4",
                    "JDCDN_DRY_RUN": "true"}
    run = run_cli(env=env)
    assert run.code == 0 and not fake_jd.calls
    assert "dir-threshold 4: 1 folder refreshed as a directory: 8 file URLs saved" in run.stdout
    assert run.report["batches"][-1] == {
        "index": 2, "type": "dir", "instances": [url("assets/img/")], "task_id": None,
        "attempts": 0, "outcome": "planned", "error": None, "request_id": None,
        "warning": None}


@pytest.mark.parametrize("env, message", [
    ({"JDCDN_MAX_URLS": "10"},
     "max-urls: the plan has 18 file URLs, over the limit of 10 (JD's daily quota is 2000 "
     "URLs); nothing was sent. To fit, narrow paths/include/exclude, set dir-threshold (e.g. "
     "20) to refresh crowded folders as directories or raise max-urls."),
    ({"JDCDN_MAX_URLS": "3", "JDCDN_DIR_THRESHOLD": "3"},
     "max-urls: the plan has 5 file URLs after dir-threshold saved 13, over the limit of 3"),
    ({"JDCDN_MAX_URLS": "8", "JDCDN_DIR_THRESHOLD": "3", "JDCDN_MAX_DIRS": "1"},
     "lower dir-threshold (now 3), raise max-dirs (1 folders over dir-threshold found no "
     "room) or raise max-urls."),
    ({"JDCDN_MAX_URLS": "20", "JDCDN_PREFETCH": "true"},
     "max-urls: the plan has 18 file URLs, 36 with prefetch (each URL is refreshed and "
     "prefetched), over the limit of 20"),
    ({"JDCDN_MAX_DIRS": "1", "JDCDN_PATHS": "\n".join(TREE) + "\nx/\ny/"},
     "max-dirs: the plan has 2 directories, over the limit of 1 (JD's daily quota is 50); "
     "nothing was sent. List fewer directories or raise max-dirs."),
])
def test_over_budget_exits_2_before_sending(run_cli, fake_jd, jd_env, env, message):
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "\n".join(TREE)} | env)
    assert run.code == 2, run.log
    assert not fake_jd.calls
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_collapsing_brings_a_plan_within_max_urls(run_cli, fake_jd, jd_env):
    paths = "\n".join(f"assets/f{n:04d}.js" for n in range(2500)) + "\nindex.html"
    run = run_cli(env=jd_env | {"JDCDN_PATHS": paths, "JDCDN_DIR_THRESHOLD": "100"})
    assert run.code == 0, run.log
    assert fake_jd.refreshed("dir") == {url("assets/")}
    assert fake_jd.refreshed("file") == {url(""), url("index.html")}
    assert len(fake_jd.requests()) == 2


def test_collapsing_keeps_where_each_file_url_came_from():
    plan = map_entries([Entry(f"a/f{i}.js", "paths") for i in range(5)]
                       + [Entry("gone.js", "git diff", "file", True, deleted=True)],
                       ("https://www.example.com/",))
    collapsed = collapse(plan, ("https://www.example.com/",), 3, 50).plan
    assert collapsed.dirs == ("https://www.example.com/a/",)
    assert collapsed.sources == plan.sources and collapsed.deleted == plan.deleted
