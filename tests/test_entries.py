"""Reading entries from paths, paths-file and arguments."""

import pytest

from jdcdn_action.entries import collect, parse_paths, read_paths_file
from jdcdn_action.exceptions import InputError


def texts(entries):
    return [(e.text, e.kind) for e in entries]


def test_lines_blank_and_comment_lines_dropped():
    assert texts(parse_paths("a.css\n\n  b.js  \n# note\n")) == [("a.css", None), ("b.js", None)]


def test_yaml_block_and_flow_lists():
    assert texts(parse_paths("- a.css\n- 'b c.js'\n")) == [("a.css", None), ("b c.js", None)]
    assert texts(parse_paths('["a.css", dir/]')) == [("a.css", None), ("dir/", None)]


def test_non_string_item_refused():
    with pytest.raises(InputError, match="item 2 is a number"):
        parse_paths("- a\n- 404\n")


def test_malformed_yaml_names_setting_and_line():
    with pytest.raises(InputError, match=r"^paths: malformed YAML at line \d"):
        parse_paths("- a\n- [b\n")


def test_bracket_names_are_paths_not_broken_yaml():
    # Next.js-style names start with '[': only a whole "[...]" text is a flow list.
    assert texts(parse_paths("[id].html\nposts/[slug].html")) == [
        ("[id].html", None), ("posts/[slug].html", None)]


def test_control_characters_refused():
    with pytest.raises(InputError, match="control character"):
        parse_paths('- "a\\nb"')
    with pytest.raises(InputError, match="U\\+0000"):
        parse_paths('["a\\0b"]')


def test_paths_file_list_and_mapping(tmp_path):
    listing = tmp_path / "list.yml"
    listing.write_text("- a.css\n- b/\n")
    assert texts(read_paths_file(str(listing))) == [("a.css", None), ("b/", None)]
    mapping = tmp_path / "map.yml"
    mapping.write_text("files:\n  - a.css\ndirs:\n  - assets\n")
    assert texts(read_paths_file(str(mapping))) == [("a.css", "file"), ("assets", "dir")]


@pytest.mark.parametrize("content, message", [
    ("files: a.css\n", "expected a list, got a str"),
    ("other: [a]\n", "unknown key"),
    ("42\n", "got a number"),
    ("just text\n", "got a str"),
])
def test_paths_file_bad_shapes(tmp_path, content, message):
    path = tmp_path / "p.yml"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_paths_file(str(path))


def test_paths_file_missing_directory_binary_not_utf8(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_paths_file(str(tmp_path / "nope.yml"))
    with pytest.raises(InputError, match="is a directory"):
        read_paths_file(str(tmp_path))
    binary = tmp_path / "b.yml"
    binary.write_bytes(b"- a\0b\n")
    with pytest.raises(InputError, match="binary"):
        read_paths_file(str(binary))
    latin = tmp_path / "l.yml"
    latin.write_bytes("- caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_paths_file(str(latin))


def test_empty_paths_file_is_no_entries(tmp_path):
    empty = tmp_path / "e.yml"
    empty.write_text("# nothing yet\n")
    assert read_paths_file(str(empty)) == []


def test_collect_adds_arguments():
    assert texts(collect("a", "", ("b", " "))) == [("a", None), ("b", None)]
