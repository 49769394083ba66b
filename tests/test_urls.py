"""Mapping entries to URLs: encoding, base prefixes, index files, types, dedupe."""

import pytest

from jdcdn_action.entries import Entry
from jdcdn_action.exceptions import InputError
from jdcdn_action.settings_values import parse_base_url
from jdcdn_action.urls import UrlPlan, encode_absolute_url, map_entries, normalise_site_path

BASE = ("https://www.example.com/",)


def files(*texts, bases=BASE, **kwargs):
    return map_entries([Entry(t, "paths") for t in texts], bases, **kwargs)


def test_site_path_joined_under_base():
    assert files("css/site.css").files == ("https://www.example.com/css/site.css",)


def test_leading_slash_optional_and_dot_segments_normalised():
    plan = files("/css/./a.css", "css//b.css", "x/../c.css")
    assert plan.files == (
        "https://www.example.com/c.css",
        "https://www.example.com/css/a.css",
        "https://www.example.com/css/b.css",
    )


def test_base_path_prefix_kept_with_and_without_trailing_slash():
    bases = (parse_base_url("https://cdn.example.com/static"),
             parse_base_url("https://www.example.com/app/v1/"))
    assert files("a.js", bases=bases).files == (
        "https://cdn.example.com/static/a.js",
        "https://www.example.com/app/v1/a.js",
    )


def test_percent_encoding_utf8_spaces_and_percent():
    plan = files("docs/a b/中文.html", "100%.txt", "q?x#y.js", "a+b(1).js")
    assert plan.files == (
        "https://www.example.com/100%25.txt",
        "https://www.example.com/a+b(1).js",
        "https://www.example.com/docs/a%20b/%E4%B8%AD%E6%96%87.html",
        "https://www.example.com/q%3Fx%23y.js",
    )


def test_index_file_refreshes_its_folder_and_root_index_the_base():
    plan = files("docs/index.html", "index.html")
    assert plan.files == (
        "https://www.example.com/",
        "https://www.example.com/docs/",
        "https://www.example.com/docs/index.html",
        "https://www.example.com/index.html",
    )
    assert files("docs/index.html", index_files=()).files == (
        "https://www.example.com/docs/index.html",)


def test_index_files_list_is_configurable():
    plan = files("a/default.htm", "b/index.html", index_files=("default.htm",))
    assert "https://www.example.com/a/" in plan.files
    assert "https://www.example.com/b/" not in plan.files


def test_type_auto_file_dir():
    plan = files("assets/", "a.css")
    assert plan.dirs == ("https://www.example.com/assets/",)
    assert plan.files == ("https://www.example.com/a.css",)
    plan = files("assets", type_="dir")
    assert plan.dirs == ("https://www.example.com/assets/",)
    plan = files("assets/", type_="file")
    assert plan.files == ("https://www.example.com/assets/",) and not plan.dirs


def test_entry_kind_beats_type_setting():
    plan = map_entries([Entry("a", "paths-file", "dir"), Entry("b/", "x", "file")], BASE,
                       type_="auto")
    assert plan.dirs == ("https://www.example.com/a/",)
    assert plan.files == ("https://www.example.com/b/",)


def test_dotdot_above_base_refused():
    with pytest.raises(InputError, match=r"paths: .*'\.\./secret'.*climbs above"):
        files("../secret")
    with pytest.raises(InputError, match="climbs above"):
        files("a/../../b")


def test_absolute_url_kept_as_written_except_illegal_characters():
    plan = files("https://cdn.example.com/a b.js?v=1&x=%41", "http://www.example.com/中.css")
    assert plan.files == (
        "http://www.example.com/%E4%B8%AD.css",
        "https://cdn.example.com/a%20b.js?v=1&x=%41",
    )


def test_absolute_url_bare_percent_and_idn_host():
    assert encode_absolute_url("https://例子.example/50%off") == \
        "https://xn--fsqu00a.example/50%25off"


def test_absolute_url_does_not_need_base():
    plan = map_entries([Entry("https://a.example.com/x", "paths")], ())
    assert plan.files == ("https://a.example.com/x",)


def test_site_path_without_base_is_an_error():
    with pytest.raises(InputError, match="base-url is required"):
        map_entries([Entry("x.css", "paths")], ())


def test_dir_type_with_query_refused():
    with pytest.raises(InputError, match="query string"):
        files("https://www.example.com/a?x=1", type_="dir")


def test_fragment_refused():
    with pytest.raises(InputError, match="fragment"):
        files("https://www.example.com/a#top")


def test_repository_path_never_read_as_url():
    plan = map_entries([Entry("http:/x", "git", "file", repository_path=True)], BASE)
    assert plan.files == ("https://www.example.com/http:/x",)


def test_dedupe_and_sort_across_bases_and_spellings():
    bases = (parse_base_url("https://b.example.com/"), parse_base_url("https://a.example.com/"))
    plan = files("x.js", "/x.js", "./x.js", bases=bases)
    assert plan.files == ("https://a.example.com/x.js", "https://b.example.com/x.js")


def test_normalise_keeps_trailing_slash_and_root():
    assert normalise_site_path("a/b/", "p") == "a/b/"
    assert normalise_site_path("/", "p") == ""
    assert normalise_site_path("a/b/..", "p") == "a/"


# -- where each file URL came from (for verify) ----------------------------------------------
def test_each_site_path_url_knows_its_path_and_folder_urls_their_folder():
    bases = (parse_base_url("https://www.example.com/"),
             parse_base_url("https://cdn.example.com/static/"))
    plan = map_entries([Entry("docs/a b/中文.html", "paths"), Entry("docs/index.html", "paths"),
                        Entry("index.html", "paths"), Entry(".", "paths"),
                        Entry("https://www.example.com/abs.html", "paths"),
                        Entry("img/", "paths")], bases)
    for base in bases:
        assert plan.sources[base + "docs/a%20b/%E4%B8%AD%E6%96%87.html"] == "docs/a b/中文.html"
        assert plan.sources[base + "docs/index.html"] == "docs/index.html"
        assert plan.sources[base + "docs/"] == "docs/"  # compared with its index file
        assert plan.sources[base] == ""  # the base itself: its folder's index file
    assert "https://www.example.com/abs.html" in plan.files
    assert "https://www.example.com/abs.html" not in plan.sources
    assert set(plan.sources) == set(plan.files) - {"https://www.example.com/abs.html"}
    assert plan.deleted == frozenset()


def test_urls_made_only_from_deleted_files_are_marked_deleted():
    git = [Entry("gone.html", "git diff", "file", True, deleted=True),
           Entry("docs/index.html", "git diff", "file", True, deleted=True),
           Entry("kept.html", "git diff", "file", True)]
    plan = map_entries([*git, Entry("kept.html", "paths")], BASE)
    assert plan.deleted == {"https://www.example.com/gone.html",
                            "https://www.example.com/docs/index.html",
                            "https://www.example.com/docs/"}
    assert plan.sources["https://www.example.com/gone.html"] == "gone.html"
    # The same file also named as a present file: not deleted.
    both = map_entries([Entry("a.html", "git diff", "file", True, deleted=True),
                        Entry("a.html", "paths")], BASE)
    assert both.deleted == frozenset() and both.sources == {
        "https://www.example.com/a.html": "a.html"}


def test_the_plans_compare_by_their_urls_only():
    assert files("a.css") == UrlPlan(("https://www.example.com/a.css",), ())
