#!/usr/bin/env python3
"""Point action.yml at a prebuilt image, by digest: ``runs.image: docker://<ref>``.

    python3 .github/scripts/pin_image.py ghcr.io/owner/jdcdn-action@sha256:<64 hex>
    python3 .github/scripts/pin_image.py --file path/to/action.yml <ref>

The release workflow runs this on the release commit only; ``main`` keeps
``image: Dockerfile``. Only the one ``image:`` line under ``runs:`` is rewritten, as text:
a YAML dump would drop the comments and reflow the inputs' descriptions. A reference
without a digest is refused, because a tag can be moved to another image after the
release, and a version tag of the action must always run the same bytes.

Exit status: 0 rewritten, 2 refused (one line on stderr), nothing written in that case.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# registry/name[:tag]@sha256:<64 hex>, lower-case as registries require; no scheme.
REFERENCE = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?"          # registry host (or first component)
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"        # repository path components
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"            # optional tag, for readers
    r"@sha256:[0-9a-f]{64}"
)
# `  image: <value>` inside the `runs:` mapping (indented, optionally quoted, maybe a comment).
IMAGE_LINE = re.compile(r"^(?P<indent>[ \t]+)image:[ \t]*(?P<value>[^#\n]*?)[ \t]*(?P<rest>#.*)?$")


class Refused(Exception):
    """A reference or file this script will not pin; the message is the one line shown."""


def check_reference(ref: str) -> str:
    if ref.startswith("docker://"):
        raise Refused(f"give the image reference without docker:// (it is added): {ref!r}")
    if "@sha256:" not in ref:
        raise Refused(f"the reference has no @sha256:<digest>; pin by digest, not by tag: {ref!r}")
    if not REFERENCE.fullmatch(ref):
        raise Refused("not an image reference of the form registry/name@sha256:<64 lower-case "
                      f"hex>: {ref!r}")
    return ref


def pin(text: str, ref: str) -> str:
    """``text`` (action.yml) with its ``runs.image`` set to ``docker://ref``; nothing else
    changes. Raises Refused when there is not exactly one such line."""
    lines = text.splitlines(keepends=True)
    in_runs = False
    found: list[int] = []
    for number, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if bare and not bare[0].isspace() and not bare.startswith("#"):
            in_runs = bare.split("#", 1)[0].rstrip() == "runs:"
            continue
        if in_runs and IMAGE_LINE.match(bare):
            found.append(number)
    if len(found) != 1:
        raise Refused(f"expected one `image:` line under `runs:` in action.yml, found "
                      f"{len(found)}")
    number = found[0]
    line = lines[number]
    ending = line[len(line.rstrip("\r\n")):]
    match = IMAGE_LINE.match(line.rstrip("\r\n"))
    assert match is not None
    rest = f" {match['rest']}" if match["rest"] else ""
    lines[number] = f"{match['indent']}image: docker://{ref}{rest}{ending}"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", help="registry/name@sha256:<digest> (a tag may precede "
                                          "the digest)")
    parser.add_argument("--file", type=Path, default=ROOT / "action.yml",
                        help="the action metadata to rewrite (default: the repository's)")
    args = parser.parse_args(argv)
    try:
        ref = check_reference(args.reference.strip())
        try:
            # newline="": line endings are kept as they are, like every other byte.
            with args.file.open(encoding="utf-8", newline="") as handle:
                text = handle.read()
        except OSError as error:
            raise Refused(f"cannot read {args.file}: {error.strerror}") from None
        pinned = pin(text, ref)
        with args.file.open("w", encoding="utf-8", newline="") as handle:
            handle.write(pinned)
    except Refused as refused:
        print(f"pin_image: {refused}", file=sys.stderr)
        return 2
    print(f"{args.file.name}: runs.image is docker://{ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
