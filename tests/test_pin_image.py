"""The release's pin script: action.yml names the image by digest, and nothing else moves.

Each test runs ``.github/scripts/pin_image.py`` as the release workflow does, on a copy of
the repository's action.yml, and compares the result with the original line by line and
as YAML; the metadata schema check is the one .ci/run uses (check-jsonschema's vendored
schema, so no network).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".github" / "scripts" / "pin_image.py"
DIGEST = "sha256:" + "0123456789abcdef" * 4
REF = f"ghcr.io/octo-org/jdcdn-action@{DIGEST}"


def pin(tmp_path: Path, ref: str, source: Path = ROOT / "action.yml"
        ) -> tuple[subprocess.CompletedProcess[str], Path]:
    copy = tmp_path / "action.yml"
    shutil.copyfile(source, copy)
    done = subprocess.run([sys.executable, str(SCRIPT), "--file", str(copy), ref],
                          capture_output=True, text=True, timeout=60)
    return done, copy


def image_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if line.strip().startswith("image:")]


@pytest.mark.parametrize("ref", [REF, f"ghcr.io/octo-org/jdcdn-action:1.2.3@{DIGEST}",
                                 f"127.0.0.1:5000/jdcdn-action@{DIGEST}"])
def test_pins_runs_image_and_changes_nothing_else(tmp_path, ref):
    original = (ROOT / "action.yml").read_text(encoding="utf-8")
    done, copy = pin(tmp_path, ref)

    assert done.returncode == 0, done.stderr
    pinned = copy.read_text(encoding="utf-8")
    before, after = original.splitlines(keepends=True), pinned.splitlines(keepends=True)
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed == image_lines(original)
    assert after[changed[0]] == f"  image: docker://{ref}\n"
    meta, old = yaml.safe_load(pinned), yaml.safe_load(original)
    assert meta["runs"] == {"using": "docker", "image": f"docker://{ref}"}
    assert meta["inputs"] == old["inputs"] and meta["outputs"] == old["outputs"]
    assert {k: v for k, v in meta.items() if k != "runs"} == \
           {k: v for k, v in old.items() if k != "runs"}
    # every comment survives (a YAML dump would drop them)
    assert [line for line in after if line.lstrip().startswith("#")] == \
           [line for line in before if line.lstrip().startswith("#")]


def test_the_pinned_file_passes_the_action_metadata_schema(tmp_path):
    checker = shutil.which("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    done, copy = pin(tmp_path, REF)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([checker, "--builtin-schema", "vendor.github-actions", str(copy)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("ref", [
    "ghcr.io/octo-org/jdcdn-action:1.2.3",                       # a tag can be moved
    "ghcr.io/octo-org/jdcdn-action:latest",
    "ghcr.io/octo-org/jdcdn-action",
    f"docker://{REF}",                                           # the script adds docker://
    "ghcr.io/octo-org/jdcdn-action@sha256:" + "0" * 63,          # digest too short
    "ghcr.io/octo-org/jdcdn-action@sha256:" + "A" * 64,          # not lower-case hex
    "ghcr.io/octo-org/jdcdn-action@sha512:" + "0" * 128,
    f"ghcr.io/Octo-Org/jdcdn-action@{DIGEST}",                   # registries want lower case
    f"ghcr.io/octo-org/jdcdn-action@{DIGEST}\nimage: x",         # no second line smuggled in
    "",
])
def test_refuses_a_reference_without_a_digest_in_one_line_and_writes_nothing(tmp_path, ref):
    done, copy = pin(tmp_path, ref)

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("pin_image:")
    assert copy.read_bytes() == (ROOT / "action.yml").read_bytes()


def test_refuses_a_file_without_exactly_one_runs_image(tmp_path):
    source = tmp_path / "source.yml"
    source.write_text("name: x\ndescription: y\nruns:\n  using: node20\n  main: index.js\n")
    work = tmp_path / "work"
    work.mkdir()
    done, copy = pin(work, REF, source)
    assert done.returncode == 2 and "found 0" in done.stderr
    assert copy.read_text() == source.read_text()


def test_keeps_crlf_line_endings_and_a_trailing_comment(tmp_path):
    source = tmp_path / "source.yml"
    source.write_bytes(b"name: x\r\ndescription: y\r\n# a comment\r\nruns:\r\n"
                       b"  using: docker\r\n  image: 'Dockerfile'  # built per job\r\n")
    work = tmp_path / "work"
    work.mkdir()
    done, copy = pin(work, REF, source)
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() == (b"name: x\r\ndescription: y\r\n# a comment\r\nruns:\r\n"
                                 b"  using: docker\r\n  image: docker://" + REF.encode()
                                 + b" # built per job\r\n")


def test_the_repositorys_action_yml_still_builds_the_dockerfile():
    """The pin is made on the release commit only; main keeps building its Dockerfile."""
    assert yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"] == "Dockerfile"
