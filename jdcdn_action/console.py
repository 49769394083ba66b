"""The log: human lines, GitHub workflow commands, and the masking of secrets.

Everything printed goes through ``Console`` so that two rules hold everywhere:
secrets registered with ``mask`` never appear, in any form (``redaction``; GitHub also gets
``::add-mask::``), and no data we print (file names, URLs, server messages) can act as a
workflow command. The other channels (outputs, summary, report, dotenv) use the same
``secrets``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from jdcdn_action.redaction import Redactor


def clean_text(text: str, limit: int = 200) -> str:
    """A server's message made safe to print: one line, printable, short."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """Text from a server kept whole but on one line: control characters as ``\\uXXXX``.
    (Task IDs: JD may return any string, and it is shown exactly enough to look up.)"""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def count(number: int, one: str, many: str = "") -> str:
    """``1 call``, ``2 calls``, ``1 directory``, ``3 directories``."""
    return f"{number} {one if number == 1 else many or one + 's'}"


def escape_data(text: str) -> str:
    """Escape a workflow command's message, as actions/toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def defuse(line: str) -> str:
    """Make a line that is not ours to command inert: the runner reads a line whose trimmed
    text starts with ``::`` as a command (``##[`` anywhere is handled in ``_write``)."""
    if line.lstrip().startswith("::"):
        line = line.replace("::", ":\u200b:", 1)
    return line


class Console:
    """Prints the run's log. ``github`` turns on workflow commands; ``debug`` debug lines."""

    def __init__(
        self,
        github: bool = False,
        debug: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.github = github
        self.debug_enabled = debug
        self._out = out or sys.stdout
        # On GitHub one stream keeps errors in order with the rest of the log.
        self._err = self._out if github else (err or sys.stderr)
        self.secrets = Redactor()

    # -- secrets -------------------------------------------------------------------------
    def mask(self, value: str) -> None:
        """Register a secret: hidden from every later line and file, and from GitHub's log
        (which hides the encodings it knows of by itself)."""
        if not self.secrets.add(value) or not self.github:
            return
        for part in value.splitlines():
            if part.strip():
                # Escaped as the runner unescapes it; a character stdout cannot encode (an
                # invalid byte read from the environment) must not stop the run here.
                part = part.encode("utf-8", "backslashreplace").decode("utf-8")
                self._write(self._out, f"::add-mask::{escape_data(part)}")

    def redact(self, text: str) -> str:
        return self.secrets.redact(text)

    # -- lines ---------------------------------------------------------------------------
    def info(self, text: str) -> None:
        for line in self.redact(text).split("\n"):
            self._write(self._out, defuse(line) if self.github else line)

    def debug(self, text: str) -> None:
        if not self.debug_enabled:
            return
        text = self.redact(text)
        if self.github:
            self._write(self._out, f"::debug::{escape_data(text)}")
        else:
            for line in text.split("\n"):
                self._write(self._err, f"debug: {line}")

    def warning(self, text: str, title: str = "") -> None:
        self._annotate("warning", text, title)

    def error(self, text: str, title: str = "") -> None:
        self._annotate("error", text, title)

    def _annotate(self, level: str, text: str, title: str) -> None:
        text = self.redact(text)
        if self.github:
            props = f" title={escape_property(self.redact(title))}" if title else ""
            self._write(self._out if level == "warning" else self._err,
                        f"::{level}{props}::{escape_data(text)}")
        else:
            stream = self._err
            self._write(stream, f"{level}: {text}")

    def group(self, title: str) -> None:
        if self.github:
            self._write(self._out, f"::group::{escape_data(self.redact(title))}")
        else:
            self.info(title)

    def endgroup(self) -> None:
        if self.github:
            self._write(self._out, "::endgroup::")

    def _write(self, stream: TextIO, line: str) -> None:
        if self.github:
            # The runner reads "##[" anywhere in a line as a legacy command; ours never
            # use it, so any occurrence is data and is broken up.
            line = line.replace("##[", "#\u200b#[")
        stream.write(line + "\n")
        stream.flush()
