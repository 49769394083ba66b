"""Entries: what the user asked to refresh, from ``paths``, ``paths-file`` and arguments.

An entry is still a raw name (a site path or an absolute URL); ``urls`` turns it into
URLs. Every problem here is an InputError that names the setting or file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from jdcdn_action.exceptions import InputError
from jdcdn_action.yamltext import load_yaml, yaml_type

Kind = Literal["file", "dir"]

# A paths file is a short list; anything this big is a mistake, and reading it whole
# would only burn memory before saying so.
MAX_PATHS_FILE_BYTES = 16 * 1024 * 1024
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing to refresh.

    ``kind`` is None when the ``type`` setting decides (``auto``: a trailing ``/`` means a
    directory). ``origin`` names where it came from, for error messages. A repository
    path from git is always a site path, never read as an absolute URL. ``deleted``: git
    saw the file deleted (it is gone from the head, though its cached copy is not; ``verify``
    then expects the CDN to answer 404 or 410).
    """

    text: str
    origin: str
    kind: Kind | None = None
    repository_path: bool = False
    deleted: bool = False


def show(value: str, limit: int = 80) -> str:
    """Quote a user value for a message: controls escaped, long values shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def check_entry_text(text: str, origin: str) -> str:
    """Refuse control characters (newlines, NUL) that no site path should contain."""
    found = CONTROL.search(text)
    if found:
        raise InputError(
            f"{origin}: the entry {show(text)} contains a control character "
            f"(U+{ord(found.group()):04X}); remove it, or quote the list item properly."
        )
    return text


def split_lines(text: str) -> list[str]:
    """Lines end at ``\\n`` or ``\\r\\n`` only: ``str.splitlines`` would also split a file
    name at U+2028, U+0085 or a form feed, turning one name into two wrong URLs."""
    return [line.removesuffix("\r") for line in text.split("\n")]


# A line that starts a YAML mapping key ("files:", "dirs: [a]", "{files: ...}"), as
# opposed to a site path, which has no ": " or trailing ":" before its first "/".
MAPPING_LINE = re.compile(r"^[^\s#\-\[][^:/]*:(\s|$)")
SHAPES = ("write one entry per line, a YAML list ('- a.html' lines, or [a.html, b.html]), "
          "or a mapping with 'files:' and/or 'dirs:' lists")


def parse_paths(text: str, origin: str = "paths") -> list[Entry]:
    """``paths``: exactly what a paths-file holds (a YAML list, or a ``files``/``dirs``
    mapping), or plain text with one entry per line.

    Text that is neither (list items mixed with plain lines, a mapping with other keys)
    is refused: guessing would turn ``files:`` or ``- a.html`` into URLs.
    """
    stripped = text.strip()
    if not stripped:
        return []
    lines = [line.strip() for line in split_lines(stripped)]
    content = [line for line in lines if line and not line.startswith("#")]
    items = [line == "-" or line.startswith("- ") for line in content]
    if (stripped.startswith("[") and stripped.endswith("]")) or (items and all(items)):
        data = load_yaml(stripped, origin)
        if not isinstance(data, list):
            raise InputError(f"{origin}: this looks like a YAML list but is "
                             f"{yaml_type(data)}; {SHAPES}.")
        return entries_from_yaml(data, origin)
    mapping = any(MAPPING_LINE.match(line) for line in content)
    if any(items) and not mapping:
        raise InputError(f"{origin}: cannot tell what this is ('- item' lines are mixed "
                         f"with plain lines); {SHAPES}.")
    if mapping:
        data = load_yaml(stripped, origin)
        if isinstance(data, dict):
            return entries_from_yaml(data, origin)
        raise InputError(f"{origin}: cannot tell what this is (a line looks like a YAML key "
                         f"but the text is not a mapping); {SHAPES}.")
    return [Entry(check_entry_text(line, origin), origin) for line in content]


def entries_from_yaml(data: object, origin: str) -> list[Entry]:
    """A list of strings, or a mapping with ``files`` and/or ``dirs`` lists."""
    if data is None:
        return []
    if isinstance(data, list):
        return _entries_from_list(data, origin, None)
    if isinstance(data, dict):
        unknown = sorted(str(key) for key in data if key not in {"files", "dirs"})
        if unknown:
            raise InputError(
                f"{origin}: unknown key(s) {', '.join(unknown)}; a mapping may only have "
                "'files' and 'dirs', each a list."
            )
        entries: list[Entry] = []
        for key, kind in (("files", "file"), ("dirs", "dir")):
            if key in data:
                entries += _entries_from_list(data[key], f"{origin} ({key})", kind)
        return entries
    raise InputError(
        f"{origin}: expected a list of paths (or a mapping with 'files'/'dirs'), "
        f"got {yaml_type(data)}."
    )


def _entries_from_list(items: object, origin: str, kind: Kind | None) -> list[Entry]:
    if not isinstance(items, list):
        raise InputError(f"{origin}: expected a list, got {yaml_type(items)}; "
                         "write one '- path' line per entry (or [] for none).")
    entries = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise InputError(
                f"{origin}: item {number} is {yaml_type(item)}, not a string; "
                "quote it (e.g. - \"404.html\")."
            )
        text = item.strip()
        if text:
            entries.append(Entry(check_entry_text(text, origin), origin, kind))
    return entries


def read_paths_file(path: str) -> list[Entry]:
    """Read ``paths-file``: a YAML list, or a mapping with ``files``/``dirs``."""
    origin = f"paths-file {path}"
    if os.path.isdir(path):
        raise InputError(f"{origin}: is a directory; name a YAML file.")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PATHS_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{origin}: no such file; check the path (relative to "
                         f"{os.getcwd()}).") from None
    except OSError as error:
        raise InputError(f"{origin}: cannot be read ({error.strerror}).") from None
    if len(data) > MAX_PATHS_FILE_BYTES:
        raise InputError(
            f"{origin}: larger than {MAX_PATHS_FILE_BYTES // (1024 * 1024)} MiB; "
            "a paths file lists paths, not content."
        )
    if b"\0" in data:
        raise InputError(f"{origin}: is a binary file (it contains NUL bytes); use YAML text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{origin}: is not UTF-8 (bad byte at offset {error.start}); save it as UTF-8."
        ) from None
    return entries_from_yaml(load_yaml(text, origin), origin)


def collect(paths: str, paths_file: str, arguments: tuple[str, ...]) -> list[Entry]:
    """All entries the user named (git-diff entries are added elsewhere)."""
    entries = parse_paths(paths)
    if paths_file:
        entries += read_paths_file(paths_file)
    entries += [
        Entry(check_entry_text(arg.strip(), "argument"), "argument")
        for arg in arguments
        if arg.strip()
    ]
    return entries
