#!/usr/bin/env python3
"""Point action.yml and the GitLab component at a prebuilt image, by digest.

    python3 .github/scripts/pin_image.py ghcr.io/owner/jdcdn-action@sha256:<64 hex>
    python3 .github/scripts/pin_image.py --file path/to/action.yml <ref>
    python3 .github/scripts/pin_image.py --component path/to/refresh.yml <ref>

action.yml gets ``runs.image: docker://<ref>``; the component (templates/refresh.yml)
gets ``<ref>`` as the default of its ``image`` input. Without ``--file`` or
``--component`` both of the repository's files are pinned; with either, only the files
named. The release workflow runs this on the release commit only; ``main`` keeps
``image: Dockerfile`` and the component's placeholder (``UNRELEASED``). Only the one line
of each file is rewritten, as text: a YAML dump would drop the comments and reflow the
descriptions. A reference without a digest is refused, because a tag can be moved to
another image after the release, and a version tag must always run the same bytes.

Exit status: 0 rewritten, 2 refused (one line on stderr), nothing written in that case
(neither file, when both were to be pinned).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The component's image between releases: a name in the .invalid domain, which never
# resolves, so that no one can publish an image under it.
UNRELEASED = "registry.invalid/jdcdn-action:unreleased"
# registry/name[:tag]@sha256:<64 hex>, lower-case as registries require; no scheme.
REFERENCE = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?"          # registry host (or first component)
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"        # repository path components
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"            # optional tag, for readers
    r"@sha256:[0-9a-f]{64}"
)
# `  image: <value>` inside the `runs:` mapping (indented, optionally quoted, maybe a comment).
IMAGE_LINE = re.compile(r"^(?P<indent>[ \t]+)image:[ \t]*(?P<value>[^#\n]*?)[ \t]*(?P<rest>#.*)?$")
# In the component's `spec:` document: the `image:` input (no value on its line), then the
# `default:` line of that input's block.
INPUT_KEY = re.compile(r"^(?P<indent>[ ]+)image:[ \t]*(#.*)?$")
DEFAULT_LINE = re.compile(r"^(?P<indent>[ ]+)default:[ \t]*(?P<value>[^#\n]*?)[ \t]*"
                          r"(?P<rest>#.*)?$")


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
    lines[found[0]] = set_value(lines[found[0]], IMAGE_LINE, "image", f"docker://{ref}")
    return "".join(lines)


def pin_component(text: str, ref: str) -> str:
    """``text`` (the component) with its ``image`` input's default set to ``ref``; nothing
    else changes. Raises Refused unless the `spec:` document has exactly one such input
    with exactly one `default:` line."""
    lines = text.splitlines(keepends=True)
    header = next((n for n, line in enumerate(lines) if line.rstrip("\r\n") == "---"),
                  len(lines))
    keys = [n for n in range(header) if INPUT_KEY.match(lines[n].rstrip("\r\n"))]
    if len(keys) != 1:
        raise Refused(f"expected one `image:` input before `---` in the component, found "
                      f"{len(keys)}")
    key = INPUT_KEY.match(lines[keys[0]].rstrip("\r\n"))
    assert key is not None
    key_indent = len(key["indent"])
    defaults = []
    for number in range(keys[0] + 1, header):
        bare = lines[number].rstrip("\r\n")
        indent = len(bare) - len(bare.lstrip(" "))
        if bare.strip() and not bare.lstrip().startswith("#") and indent <= key_indent:
            break  # the next input: the image input's block has ended
        match = DEFAULT_LINE.match(bare)
        if match and len(match["indent"]) == key_indent + 2:
            defaults.append(number)
    if len(defaults) != 1:
        raise Refused(f"expected one `default:` line in the component's `image:` input, "
                      f"found {len(defaults)}")
    lines[defaults[0]] = set_value(lines[defaults[0]], DEFAULT_LINE, "default", ref)
    return "".join(lines)


def set_value(line: str, pattern: re.Pattern[str], key: str, value: str) -> str:
    """``line`` (``<indent><key>: <old> # comment``) with ``value`` for its value; the
    indentation, a comment and the line ending are kept."""
    ending = line[len(line.rstrip("\r\n")):]
    match = pattern.match(line.rstrip("\r\n"))
    assert match is not None
    rest = f" {match['rest']}" if match["rest"] else ""
    return f"{match['indent']}{key}: {value}{rest}{ending}"


def read(path: Path) -> str:
    try:
        # newline="": line endings are kept as they are, like every other byte.
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", help="registry/name@sha256:<digest> (a tag may precede "
                                          "the digest)")
    parser.add_argument("--file", type=Path,
                        help="the action metadata to rewrite (default: the repository's)")
    parser.add_argument("--component", type=Path,
                        help="the GitLab component to rewrite (default: the repository's)")
    args = parser.parse_args(argv)
    if args.file is None and args.component is None:
        args.file, args.component = ROOT / "action.yml", ROOT / "templates" / "refresh.yml"
    try:
        ref = check_reference(args.reference.strip())
        # Both are rewritten in memory first: a file that cannot be pinned leaves both as
        # they were.
        pinned = []
        if args.file is not None:
            pinned.append((args.file, pin(read(args.file), ref),
                           f"runs.image is docker://{ref}"))
        if args.component is not None:
            pinned.append((args.component, pin_component(read(args.component), ref),
                           f"the image input's default is {ref}"))
        for path, text, _ in pinned:
            with path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
    except Refused as refused:
        print(f"pin_image: {refused}", file=sys.stderr)
        return 2
    for path, _, what in pinned:
        print(f"{path.name}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
