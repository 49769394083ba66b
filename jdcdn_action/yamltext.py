"""YAML for paths: lists, mappings and plain values, read as a stream of parser events.

A paths list needs none of YAML's graph features, and they are how a few hundred bytes
become a denial of service: aliases that expand 9^11 times ("billion laughs"), or
``[`` x 20,000 that a recursive walk cannot finish. So the values are built here from
libyaml's events (PyYAML's pure parser where libyaml is missing), and the first anchor or
alias, or a level deeper than ``MAX_DEPTH``, ends the reading at once: the verdict does not
wait for the rest of the document. Building from events also skips PyYAML's node graph,
which made a 10 MB paths file twice as slow to read.
"""

from __future__ import annotations

import re
from typing import NoReturn

from jdcdn_action.exceptions import InputError

# YAML reads these as line breaks inside a plain name, changing it silently.
YAML_BREAKS = re.compile("[\x85\u2028\u2029]")
MAX_DEPTH = 20  # a paths list is two levels deep at most: deeper is a mistake
STR_TAG = "tag:yaml.org,2002:str"
_NO_KEY = object()


class _Open:
    """A list or mapping whose end event has not come yet."""

    __slots__ = ("key", "line", "value")

    def __init__(self, value: list[object] | dict[object, object], line: int) -> None:
        self.value = value
        self.line = line  # where it starts, 1-based: for a mapping key that is a collection
        self.key: object = _NO_KEY  # a mapping's key waiting for its value


def load_yaml(text: str, origin: str) -> object:
    """Parse YAML into lists, dicts and strings (other scalars through PyYAML's safe
    constructor); a key given twice is an error (YAML itself would let the second
    silently replace the first), and so are anchors, aliases and deep nesting."""
    import yaml  # imported late: a run without YAML input starts faster

    odd = YAML_BREAKS.search(text)
    if odd:
        raise InputError(f"{origin}: contains U+{ord(odd.group()):04X}, which YAML reads as a "
                         "line break inside a name; write it as an escape in a "
                         "double-quoted item (\"\\u2028\").")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return _build(loader, origin)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "invalid YAML"
        if mark and "nesting depth" in problem:  # libyaml's own limit (1000) came first
            _too_deep(origin, mark.line + 1)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{origin}: malformed YAML{where}: {problem}.") from None
    finally:
        loader.dispose()


def _build(loader: object, origin: str) -> object:
    """The document's value, built event by event; None for an empty stream."""
    import yaml
    from yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        DocumentStartEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )

    get_event, resolve = loader.get_event, loader.resolve  # type: ignore[attr-defined]
    construct = loader.construct_object  # type: ignore[attr-defined]
    scalar_node = yaml.ScalarNode
    stack: list[_Open] = []
    document: list[object] = []
    documents = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None:
                _refuse_graph(origin, event, "&" + event.anchor)
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(scalar_node, event.value, event.implicit)
            value = event.value if tag == STR_TAG else construct(scalar_node(
                tag, event.value, event.start_mark, event.end_mark, event.style))
        elif kind is SequenceStartEvent or kind is MappingStartEvent:
            if event.anchor is not None:
                _refuse_graph(origin, event, "&" + event.anchor)
            if len(stack) >= MAX_DEPTH:
                _too_deep(origin, event.start_mark.line + 1)
            stack.append(_Open([] if kind is SequenceStartEvent else {},
                               event.start_mark.line + 1))
            continue
        elif isinstance(event, CollectionEndEvent):
            closed = stack.pop()
            value, line = closed.value, closed.line
            _add(stack, document, value, line, origin)
            continue
        elif kind is AliasEvent:
            _refuse_graph(origin, event, "*" + event.anchor)
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise InputError(f"{origin}: malformed YAML at line "
                                 f"{event.start_mark.line + 1}: a second document ('---'); "
                                 "keep one list.")
            continue
        elif kind is StreamEndEvent or event is None:
            return document[0] if document else None
        else:  # stream start, document end
            continue
        _add(stack, document, value, event.start_mark.line + 1, origin)


def _add(stack: list[_Open], document: list[object], value: object, line: int,
         origin: str) -> None:
    """Put a finished value into the collection it belongs to (or make it the document)."""
    if not stack:
        document.append(value)
        return
    parent = stack[-1]
    if isinstance(parent.value, list):
        parent.value.append(value)
    elif parent.key is _NO_KEY:
        if not isinstance(value, str | int | float | bool | None):
            raise InputError(f"{origin}: a key at line {line} is {yaml_type(value)}; the "
                             "keys are 'files' and 'dirs'.")
        if value in parent.value:
            raise InputError(f"{origin}: the key {value!r} is given twice (line {line}); "
                             "merge the two lists into one.")
        parent.key = value
    else:
        parent.value[parent.key] = value
        parent.key = _NO_KEY


def _too_deep(origin: str, line: int) -> NoReturn:
    raise InputError(f"{origin}: the YAML is nested too deeply (line {line}); a paths list "
                     "is a list of strings (or 'files'/'dirs' lists of strings).")


def _refuse_graph(origin: str, event: object, name: str) -> NoReturn:
    line = event.start_mark.line + 1  # type: ignore[attr-defined]
    raise InputError(f"{origin}: YAML anchors and aliases are not accepted ({name} at line "
                     f"{line}); write every entry out, and quote a name that starts with "
                     "& or *.")


def yaml_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
