"""The release's pin script: action.yml names the image by digest, and nothing else moves.

Each test runs ``.github/scripts/pin_image.py`` as the release workflow does, on a copy of
the repository's action.yml, and compares the result with the original line by line and
as YAML; the metadata schema check is the one .ci/run uses (check-jsonschema's vendored
schema, so no network).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, unavailable

SCRIPT = ROOT / ".github" / "scripts" / "pin_image.py"
DIGEST = "sha256:" + "0123456789abcdef" * 4
REF = f"ghcr.io/octo-org/jdcdn-action@{DIGEST}"


def pin(tmp_path: Path, ref: str, source: Path = ROOT / "action.yml", option: str = "--file"
        ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The script run on a copy of ``source`` (action.yml, or with ``--component`` the
    component), as the release runs it."""
    copy = tmp_path / ("action.yml" if option == "--file" else "refresh.yml")
    shutil.copyfile(source, copy)
    done = subprocess.run([sys.executable, str(SCRIPT), option, str(copy), ref],
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
        unavailable("check-jsonschema is not installed (pip install -e '.[test]')")
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


# -- the GitLab component --------------------------------------------------------------------
COMPONENT = ROOT / "templates" / "refresh.yml"


def pin_component(tmp_path: Path, ref: str, source: Path = COMPONENT
                  ) -> tuple[subprocess.CompletedProcess[str], Path]:
    return pin(tmp_path, ref, source, "--component")


def component_docs(text: str) -> list[dict]:
    return list(yaml.safe_load_all(text))


@pytest.mark.parametrize("ref", [REF, f"ghcr.io/octo-org/jdcdn-action:1.2.3@{DIGEST}",
                                 f"registry.example.cn:5000/ci/jdcdn-action@{DIGEST}"])
def test_pins_the_components_image_default_and_changes_nothing_else(tmp_path, ref):
    original = COMPONENT.read_text(encoding="utf-8")
    done, copy = pin_component(tmp_path, ref)

    assert done.returncode == 0, done.stderr
    pinned = copy.read_text(encoding="utf-8")
    before, after = original.splitlines(keepends=True), pinned.splitlines(keepends=True)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1 and after[changed[0]] == f"      default: {ref}\n"
    (spec, job), (old_spec, old_job) = component_docs(pinned), component_docs(original)
    assert spec["spec"]["inputs"]["image"]["default"] == ref
    old_spec["spec"]["inputs"]["image"]["default"] = ref
    assert spec == old_spec and job == old_job


def test_the_repositorys_component_names_no_image_between_releases():
    """main's component names the .invalid placeholder, which no registry can serve; the
    release workflow refuses to release from a main that names anything else."""
    spec = component_docs(COMPONENT.read_text(encoding="utf-8"))[0]
    loader = importlib.util.spec_from_file_location("pin_image", SCRIPT)
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    assert spec["spec"]["inputs"]["image"]["default"] == script.UNRELEASED == \
        "registry.invalid/jdcdn-action:unreleased"
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert f"'      default: {script.UNRELEASED}'" in release


@pytest.mark.parametrize("ref", ["ghcr.io/octo-org/jdcdn-action:1.2.3", f"docker://{REF}",
                                 f"{REF}\n      default: x", ""])
def test_refuses_to_pin_the_component_without_a_digest(tmp_path, ref):
    done, copy = pin_component(tmp_path, ref)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert copy.read_bytes() == COMPONENT.read_bytes()


@pytest.mark.parametrize(("text", "found"), [
    ("spec:\n  inputs:\n    stage:\n      default: deploy\n---\njob:\n  image: x\n",
     "one `image:` input before `---` in the component, found 0"),
    ("spec:\n  inputs:\n    image:\n      description: d\n    as:\n      default: a\n---\n",
     "one `default:` line in the component's `image:` input, found 0"),
    ("spec:\n  inputs:\n    image:\n      default: a\n      default: b\n---\n",
     "found 2"),
])
def test_refuses_a_component_without_exactly_one_image_default(tmp_path, text, found):
    source = tmp_path / "source.yml"
    source.write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    done, copy = pin_component(work, REF, source)
    assert done.returncode == 2 and found in done.stderr, done.stderr
    assert copy.read_text() == text


def test_keeps_the_components_crlf_line_endings_and_comments(tmp_path):
    source = tmp_path / "source.yml"
    source.write_bytes(b"spec:\r\n  inputs:\r\n    image:  # the image\r\n"
                       b"      description: d\r\n      # between releases\r\n"
                       b"      default: registry.invalid/x:y  # placeholder\r\n"
                       b"    as:\r\n      default: a\r\n---\r\njob:\r\n  image: z\r\n")
    work = tmp_path / "work"
    work.mkdir()
    done, copy = pin_component(work, REF, source)
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() == source.read_bytes().replace(
        b"default: registry.invalid/x:y  # placeholder",
        b"default: " + REF.encode() + b" # placeholder")


def test_without_a_file_named_both_of_the_repositorys_files_are_pinned_or_neither(tmp_path):
    """What the release workflow runs: ``pin_image.py <ref>``, in the checkout. A component
    that cannot be pinned leaves action.yml as it was too."""
    for name in ("action.yml", "templates/refresh.yml", ".github/scripts/pin_image.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    script = tmp_path / ".github" / "scripts" / "pin_image.py"
    done = subprocess.run([sys.executable, str(script), REF], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"action.yml: runs.image is docker://{REF}",
                                        f"refresh.yml: the image input's default is {REF}"]
    assert yaml.safe_load((tmp_path / "action.yml").read_text())["runs"]["image"] == \
        f"docker://{REF}"
    assert component_docs((tmp_path / "templates" / "refresh.yml").read_text())[0][
        "spec"]["inputs"]["image"]["default"] == REF

    # again, from main's files, with a component the script cannot pin
    shutil.copyfile(ROOT / "action.yml", tmp_path / "action.yml")
    (tmp_path / "templates" / "refresh.yml").write_text("spec:\n  inputs: {}\n---\n")
    done = subprocess.run([sys.executable, str(script), REF], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert (tmp_path / "action.yml").read_bytes() == (ROOT / "action.yml").read_bytes()
