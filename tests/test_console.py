"""Console: masking, redaction and defusing of workflow commands."""

import io

from jdcdn_action.console import Console


def make(github: bool, debug: bool = True) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(github=github, debug=debug, out=out, err=err), out, err


def test_mask_emits_add_mask_on_github_only_and_redacts_everywhere():
    console, out, _ = make(github=True)
    console.mask("hunter2")
    console.info("key is hunter2")
    console.debug("debug hunter2")
    console.error("error hunter2", title="t hunter2")
    assert out.getvalue().splitlines() == [
        "::add-mask::hunter2", "key is ***", "::debug::debug ***", "::error title=t ***::error ***"]
    console, out, err = make(github=False)
    console.mask("hunter2")
    console.info("key is hunter2")
    console.warning("hunter2")
    assert "hunter2" not in out.getvalue() + err.getvalue()
    assert "::" not in out.getvalue() + err.getvalue()


def test_longer_secret_containing_a_shorter_one_is_hidden_whole():
    console, out, _ = make(github=False)
    console.mask("abc")
    console.mask("abcdef")
    console.info("abcdef")
    assert out.getvalue() == "***\n"


def test_data_cannot_become_a_command():
    console, out, _ = make(github=True)
    console.info("::error::injected")
    console.info("  ::add-mask::x")
    console.info("x ##[error]legacy")
    console.info("two\n::warning::lines")
    console.warning("multi\nline %")
    lines = out.getvalue().splitlines()
    assert not any(line.strip().startswith("::") for line in lines[:5])
    assert all("##[" not in line for line in lines)
    assert lines[-1] == "::warning::multi%0Aline %25"


def test_group_and_debug_off():
    console, out, _ = make(github=True, debug=False)
    console.group("batch 1")
    console.debug("hidden")
    console.endgroup()
    assert out.getvalue().splitlines() == ["::group::batch 1", "::endgroup::"]


def test_add_mask_is_escaped_as_the_runner_unescapes_it():
    """The runner reads ``%25`` as ``%`` and ``%0A`` as a line break in a command's value:
    unescaped, ``ab%0Acd`` would mask two other strings and leave the secret visible. A
    character stdout cannot encode (an invalid byte read from the environment) is written
    escaped rather than stopping the run."""
    console, out, _ = make(github=True)
    console.mask("ab%0Acd\udcff")
    assert out.getvalue() == "::add-mask::ab%250Acd\\udcff\n"
    out.getvalue().encode("utf-8")  # it can be written to a UTF-8 stream
