"""Redaction: no secret leaves the process, in any form, whatever a server echoes.

A server's error may quote what it was sent, escaped the way its language escapes text,
maybe twice (a JSON-escaped echo inside a JSON answer); the run then cuts long messages to
size. So each secret is found in text whatever escaping its characters went through, the
first characters of a secret are hidden where a message was cut (``...``) right after them,
and a URL's user name and password are hidden wherever a URL shows them. One ``Redactor``
knows every secret and signature of the run; each channel (log, outputs, summary, report,
dotenv) passes its text through it just before writing, so that no single message has to
remember to.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

MASK = "***"
#: The fewest first characters of a secret hidden before a cut: fewer tell nothing.
MIN_CUT = 4
CUT = "..."
#: Characters no escaping changes (JSON, repr, HTML, %-encoding keep them as they are): a
#: secret made of these only is found by plain search, the quickest.
PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
#: ``scheme://user:password@``: the user info ends at the last ``@`` of the authority (and
#: at a quote, which no URL holds as is but JSON and Markdown put around one).
USER_INFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s\"'<>`]*@")
CONTROL_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}
HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}

T = TypeVar("T")


def hide_userinfo(url: str) -> str:
    """``url`` with its user name and password (if any) shown as ``***``: for messages
    about a URL the user gave, which must name the URL but not the password in it."""
    start = url.find("//")
    if start < 0:
        return url
    host = start + 2
    end = min([i for i in (url.find(c, host) for c in "/?#") if i >= 0] or [len(url)])
    at = url.rfind("@", host, end)
    return url if at < 0 else url[:host] + MASK + url[at:]


def _hex(number: int, width: int = 0) -> str:
    """``number`` in hex as a pattern matching either case: 0x2f -> ``2[fF]``."""
    return "".join(d if d.isdigit() else f"[{d}{d.upper()}]" for d in f"{number:0{width}x}")


@functools.cache
def char_pattern(char: str, depth: int = 2) -> str:
    """A pattern for ``char`` in every form escaping gives it: as is; after backslashes
    (JSON ``\\"``, ``\\/``, repr ``\\'``, ``\\\\``, nested JSON's ``\\\\\\"``); as ``\\uXXXX``,
    ``\\xXX`` or ``\\n``; %-encoded (UTF-8, either case, ``%252F`` too; a space as ``+``);
    as an HTML entity (``&amp;lt;`` too). The characters of each escape may be escaped
    once more (``depth``): ``%5C%22`` is a JSON-escaped quote, %-encoded."""
    if char in PLAIN or depth == 0:
        return re.escape(char)

    def sub(text: str) -> str:
        return "".join(char_pattern(c, depth - 1) for c in text)

    code = ord(char)
    backslashes = f"(?:{sub(chr(92))})+"
    options = [re.escape(char), backslashes + sub(char)]
    data = char.encode("utf-8", "surrogateescape")  # an invalid byte as itself
    options.append("".join(f"{sub('%')}(?:25)*{_hex(byte, 2)}" for byte in data))
    if char == " ":
        options.append(sub("+"))
    if char in CONTROL_ESCAPES:
        options.append(backslashes + CONTROL_ESCAPES[char])
    if code < 0x100:
        options.append(backslashes + "x" + _hex(code, 2))
    if code < 0x10000:
        options.append(backslashes + "u" + _hex(code, 4))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        options += [f"{backslashes}u{_hex(high, 4)}{backslashes}u{_hex(low, 4)}",
                    backslashes + "U" + _hex(code, 8)]
    named = f"|{HTML_NAMES[char]}" if char in HTML_NAMES else ""
    number = f"{sub('#')}(?:0*{code}|[xX]0*{_hex(code)})"
    options.append(f"{sub('&')}(?:amp;)*(?:{number}{named}){sub(';')}")
    return "(?:" + "|".join(options) + ")"


class _Secret:
    """One secret: found by plain search when no escaping can change it, else by a
    pattern; ``cut`` finds its first characters (at least MIN_CUT) right before ``...``."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.plain = all(char in PLAIN for char in value)
        self.prefixes = frozenset(value[:n] for n in range(MIN_CUT, len(value)))
        self._parts = [] if self.plain else [char_pattern(char) for char in value]
        self.pattern = None if self.plain else re.compile("".join(self._parts))
        self._cut: re.Pattern[str] | None = None

    @property
    def cut(self) -> re.Pattern[str] | None:
        """``p1p2p3p4(?:p5(?:p6)?)?`` before ``...`` (where the cut may have left the
        start of an escape, ``%2``, too): compiled when first needed."""
        if self.plain or self._cut is not None:
            return self._cut
        tail = ""
        for part in reversed(self._parts[MIN_CUT:]):
            tail = f"(?:{part}{tail})?"
        self._cut = re.compile("".join(self._parts[:MIN_CUT]) + tail
                               + r"[^\s.]{0,9}(?=\.\.\.)")
        return self._cut

    def found_in(self, text: str) -> bool:
        if self.pattern is None:
            return self.value in text
        return self.pattern.search(text) is not None

    def hide(self, text: str) -> str:
        if self.pattern is None:
            return text.replace(self.value, MASK) if self.value in text else text
        return self.pattern.sub(MASK, text)


class Redactor:
    """The run's secrets; safe to share between threads (signatures are added by the
    threads that make them while others print)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Replaced whole, never changed in place: a reader sees the old tuple or the new.
        self._secrets: tuple[_Secret, ...] = ()  # longest first: one holding another goes whole
        self._prefixes: frozenset[str] = frozenset()  # the plain secrets' first characters

    def add(self, value: str) -> bool:
        """Know ``value`` from now on; False if it was known already (or empty)."""
        with self._lock:
            if not value or any(s.value == value for s in self._secrets):
                return False
            secret = _Secret(value)
            self._secrets = tuple(sorted((*self._secrets, secret), key=lambda s: len(s.value),
                                         reverse=True))
            if secret.plain:
                self._prefixes |= secret.prefixes
            return True

    def redact(self, text: str) -> str:
        """``text`` with every secret in any form, a secret's first characters before a
        cut, and every URL's user info replaced by ``***``."""
        return self._redact(text, self._secrets)

    def _redact(self, text: str, secrets: tuple[_Secret, ...]) -> str:
        for secret in secrets:
            text = secret.hide(text)
        if CUT in text:
            if self._prefixes:
                text = _hide_cut_prefixes(text, self._prefixes)
            for secret in secrets:
                if secret.cut is not None:
                    text = secret.cut.sub(MASK, text)
        if "@" in text:
            text = USER_INFO.sub(rf"\1{MASK}@", text)
        return text

    def scrub(self, data: T) -> T:
        """A copy of ``data`` (strings, lists, tuples, dicts, dataclasses of these) with
        every string redacted: what each channel renders from then holds no secret, even
        after the channel's own escaping."""
        strings: list[str] = []
        _walk(data, strings.append)
        joined = "\n".join(strings)
        # Only the secrets found anywhere need looking for in each string.
        present = tuple(s for s in self._secrets if s.found_in(joined))
        if not present and CUT not in joined and "@" not in joined:
            return data
        return _rebuild(data, lambda text: self._redact(text, present)
                        if CUT in text or "@" in text or present else text)


def _hide_cut_prefixes(text: str, prefixes: frozenset[str]) -> str:
    """Hide the first characters of a plain secret left right before a ``...`` cut."""
    longest = max(map(len, prefixes))
    pieces = []
    done = 0
    for cut in re.finditer(re.escape(CUT), text):
        at = cut.start()
        for size in range(min(longest, at - done), MIN_CUT - 1, -1):
            if text[at - size:at] in prefixes:
                pieces += [text[done:at - size], MASK]
                done = at
                break
    return "".join(pieces) + text[done:] if pieces else text


def _walk(data: Any, visit: Callable[[str], Any]) -> None:
    if isinstance(data, str):
        visit(data)
    elif isinstance(data, (list, tuple)):
        for item in data:
            _walk(item, visit)
    elif isinstance(data, dict):
        for key, value in data.items():
            _walk(key, visit)
            _walk(value, visit)
    elif dataclasses.is_dataclass(data) and not isinstance(data, type):
        for field in dataclasses.fields(data):
            _walk(getattr(data, field.name), visit)


def _rebuild(data: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, list):
        return [_rebuild(item, redact) for item in data]
    if isinstance(data, tuple):
        return tuple(_rebuild(item, redact) for item in data)
    if isinstance(data, dict):
        return {_rebuild(key, redact): _rebuild(value, redact) for key, value in data.items()}
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.replace(data, **{f.name: _rebuild(getattr(data, f.name), redact)
                                            for f in dataclasses.fields(data) if f.init})
    return data
