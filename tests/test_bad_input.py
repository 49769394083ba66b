"""Bad input: one clear line naming the setting or file, exit 2, no call sent, no traceback."""

from __future__ import annotations

import pytest

from tests.helpers import SECRET

# (id, args, env, text that the one line must contain)
CASES = [
    ("no-username", [], {"JDCDN_USERNAME": ""}, "username is required"),
    ("no-secret", [], {"JDCDN_SECRET_KEY": ""}, "secret-key is required"),
    ("no-base-url", [], {"JDCDN_BASE_URL": ""}, "base-url is required"),
    ("base-ftp", [], {"JDCDN_BASE_URL": "ftp://www.example.com/"}, "base-url: 'ftp://"),
    ("base-query", [], {"JDCDN_BASE_URL": "https://www.example.com/?a=1"}, "query or fragment"),
    ("base-fragment", [], {"JDCDN_BASE_URL": "https://www.example.com/#x"}, "query or fragment"),
    ("base-no-host", [], {"JDCDN_BASE_URL": "https:///static/"}, "no host name"),
    ("base-credentials", [], {"JDCDN_BASE_URL": "https://u:p@www.example.com/"}, "password"),
    ("base-space", [], {"JDCDN_BASE_URL": "https://www.example.com/a b/"}, "spaces"),
    ("base-bad-port", [], {"JDCDN_BASE_URL": "https://www.example.com:99999/"}, "port"),
    ("yaml-paths", [], {"JDCDN_PATHS": "- a\n- [b\n"}, "paths: malformed YAML at line "),
    ("yaml-item-number", [], {"JDCDN_PATHS": "- a\n- 404\n"}, "item 2 is a number"),
    ("yaml-item-null", [], {"JDCDN_PATHS": "- a\n- ~\n"}, "item 2 is null"),
    ("yaml-item-mapping", [], {"JDCDN_PATHS": "- a\n- {b: c}\n"}, "item 2 is a mapping"),
    ("yaml-item-bool", [], {"JDCDN_PATHS": "- yes\n"}, "item 1 is a boolean"),
    ("dotdot", [], {"JDCDN_PATHS": "../etc/passwd"}, "climbs above the base URL"),
    ("dotdot-deep", [], {"JDCDN_PATHS": "a/../../b"}, "climbs above the base URL"),
    ("control-tab", [], {"JDCDN_PATHS": '["a\\tb"]'}, "control character (U+0009)"),
    ("newline-in-entry", [], {"JDCDN_PATHS": '- "a\\nb"'}, "control character (U+000A)"),
    ("nul-in-entry", [], {"JDCDN_PATHS": '["a\\0b"]'}, "control character (U+0000)"),
    ("nul-in-argument", ["a\x01b"], {}, "argument: the entry"),
    ("bool", [], {"JDCDN_DRY_RUN": "maybe"}, "dry-run: 'maybe' is not a boolean"),
    ("bool-input", [], {"INPUT_FAIL-ON-ERROR": "treu"}, "fail-on-error: 'treu'"),
    ("int", [], {"JDCDN_MAX_URLS": "lots"}, "max-urls: 'lots' is not a whole number"),
    ("int-float", [], {"JDCDN_CONCURRENCY": "2.5"}, "concurrency: '2.5'"),
    ("int-range", [], {"JDCDN_CONCURRENCY": "0"}, "concurrency: 0 is out of range"),
    ("attempts-range", [], {"JDCDN_MAX_ATTEMPTS": "0"}, "max-attempts: 0 is out of range"),
    ("negative", [], {"JDCDN_DIR_THRESHOLD": "-1"}, "dir-threshold: -1 is out of range"),
    ("timeout", [], {"JDCDN_TIMEOUT": "soon"}, "timeout: 'soon' is not a number"),
    ("nan", [], {"JDCDN_POLL_INTERVAL": "nan"}, "poll-interval: nan is out of range"),
    ("wait-timeout", [], {"JDCDN_WAIT_TIMEOUT": "-5"}, "wait-timeout: -5 is out of range"),
    ("timezone", [], {"JDCDN_SIGNATURE_TIMEZONE": "Mars/Olympus"}, "signature-timezone"),
    ("offset", [], {"JDCDN_SIGNATURE_TIMEZONE": "+25:00"}, "not a valid UTC offset"),
    ("endpoint-http", [], {"JDCDN_API_ENDPOINT": "http://opencdn.jcloud.com"},
     "api-endpoint: 'http://opencdn.jcloud.com' uses plain http"),
    ("endpoint-junk", [], {"JDCDN_API_ENDPOINT": "opencdn.jcloud.com"}, "api-endpoint"),
    ("type-value", [], {"JDCDN_TYPE": "folder"}, "type: 'folder' is not one of"),
    ("dir-with-query", [], {"JDCDN_TYPE": "dir", "JDCDN_PATHS": "https://www.example.com/a?v=1"},
     "query string"),
    ("url-fragment", [], {"JDCDN_PATHS": "https://www.example.com/a#top"}, "#fragment"),
    ("url-scheme", [], {"JDCDN_PATHS": "ftp://www.example.com/a"}, "not an http:// or https://"),
    ("url-no-host", [], {"JDCDN_PATHS": "https:///a"}, "has no host name"),
    ("over-max-urls", [], {"JDCDN_PATHS": "\n".join(f"f{i}" for i in range(11)),
                           "JDCDN_MAX_URLS": "10"}, "max-urls: the plan has 11 file URLs"),
    ("over-max-dirs", [], {"JDCDN_PATHS": "a/\nb/\nc/", "JDCDN_MAX_DIRS": "2"},
     "max-dirs: the plan has 3 directories"),
    ("index-files", [], {"JDCDN_INDEX_FILES": "docs/index.html"}, "index-files"),
    ("username-newline", [], {"INPUT_USERNAME": "a\nb"},
     "username: the value holds U+000A (a line break) inside it"),
    # paths takes exactly the shapes of a paths-file, or one entry per line
    ("paths-other-key", [], {"JDCDN_PATHS": "urls:\n  - a.html\n"}, "unknown key(s) urls"),
    ("paths-mixed", [], {"JDCDN_PATHS": "- a.html\nb.html\n"},
     "paths: cannot tell what this is ('- item' lines are mixed with plain lines)"),
    ("paths-key-twice", [], {"JDCDN_PATHS": "files:\n  - a\nfiles:\n  - b\n"},
     "paths: the key 'files' is given twice (line 3)"),
    ("paths-mapping-then-line", [], {"JDCDN_PATHS": "files:\n  - a\nb.html\n"},
     "paths: malformed YAML"),
    ("paths-deep", [], {"JDCDN_PATHS": "[" * 5000 + "]" * 5000}, "paths: the YAML is nested "
     "too deeply"),
    ("paths-alias", [], {"JDCDN_PATHS": "- &a a.css\n- *a\n"},
     "paths: YAML anchors and aliases are not accepted (&a at line 1)"),
    ("paths-anchor-mapping", [], {"JDCDN_PATHS": "files: &f [a.css]\ndirs: *f\n"},
     "paths: YAML anchors and aliases are not accepted (&f at line 1)"),
    ("paths-u2028-in-yaml", [], {"JDCDN_PATHS": "- a\u2028b.html"}, "contains U+2028"),
    ("url-user-info", [], {"JDCDN_PATHS": "https://user:pw@www.example.com/a"},
     "user name or password"),
    ("url-user-only", [], {"JDCDN_PATHS": "https://user@www.example.com/a"},
     "user name or password"),
    ("url-port-zero", [], {"JDCDN_PATHS": "https://www.example.com:0/a"},
     "port outside 1-65535"),
    ("url-port-big", [], {"JDCDN_PATHS": "https://www.example.com:70000/a"},
     "port outside 1-65535"),
    ("url-port-junk", [], {"JDCDN_PATHS": "https://www.example.com:http/a"},
     "port outside 1-65535"),
    ("protocol-relative", [], {"JDCDN_PATHS": "//cdn.example.com/a.js"},
     "protocol-relative URL"),
    ("unknown-flag", ["--bogus"], {}, "unknown option --bogus"),
    ("flag-without-value", ["--max-urls"], {}, "--max-urls: expected one argument"),
]


@pytest.mark.parametrize("args, env, message", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_sent(run_cli, fake_jd, jd_env, args, env,
                                                   message):
    run = run_cli(args, env=jd_env | {"JDCDN_PATHS": "a.css"} | env)
    assert run.code == 2, run.log
    assert not fake_jd.calls
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in run.log and run.stdout == ""


@pytest.fixture
def paths_file(tmp_path):
    def make(content: bytes | str, name: str = "paths.yml") -> str:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        return str(path)

    return make


FILE_CASES = [
    ("mapping-unknown-key", b"urls: [a]\n", "unknown key(s) urls"),
    ("number", b"42\n", "got a number (42)"),
    ("scalar", b"just-a-name\n", "got a str"),
    ("files-null", b"files:\ndirs: [a]\n", "(files): expected a list, got null"),
    ("files-mapping", b"files: {a: b}\n", "(files): expected a list, got a mapping"),
    ("files-string", b"files: a.css\n", "(files): expected a list, got a str"),
    ("item-number", b"- 1\n", "item 1 is a number"),
    ("malformed", b"- a\n  - b: [\n", "malformed YAML"),
    ("binary", b"\x89PNG\r\n\x1a\n\0\0\0", "binary file"),
    ("latin1", "- café\n".encode("latin-1"), "not UTF-8"),
    ("control", b'- "a\\rb"\n', "control character (U+000D)"),
    ("key-twice", b"dirs: [a/]\nfiles: [a]\ndirs: [b/]\n", "the key 'dirs' is given twice"),
    ("deep", b"- " * 3000 + b"a\n", "paths-file"),
    ("deep-flow", b"[" * 20000 + b"]" * 20000, "the YAML is nested too deeply (line 1)"),
    ("alias", b"files: [a.css]\ndirs: *d\n", "anchors and aliases are not accepted (*d"),
]


@pytest.mark.parametrize("content, message", [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_bad_paths_file(run_cli, fake_jd, jd_env, paths_file, content, message):
    path = paths_file(content)
    run = run_cli(env=jd_env | {"JDCDN_PATHS_FILE": path})
    assert run.code == 2 and not fake_jd.calls
    assert len(run.stderr.splitlines()) == 1
    assert f"paths-file {path}" in run.stderr and message in run.stderr, run.stderr


def test_paths_file_missing_or_directory(run_cli, fake_jd, jd_env, tmp_path):
    run = run_cli(env=jd_env | {"JDCDN_PATHS_FILE": str(tmp_path / "missing.yml")})
    assert run.code == 2 and "no such file" in run.stderr
    run = run_cli(env=jd_env | {"JDCDN_PATHS_FILE": str(tmp_path)})
    assert run.code == 2 and "is a directory" in run.stderr
    assert not fake_jd.calls


def test_huge_paths_file_fails_fast_with_bounded_memory(run_cli, fake_jd, jd_env, tmp_path):
    import resource

    huge = tmp_path / "huge.yml"
    with open(huge, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB without writing them
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = run_cli(env=jd_env | {"JDCDN_PATHS_FILE": str(huge)})
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert run.code == 2 and "larger than 16 MiB" in run.stderr and not fake_jd.calls
    assert grown_mib < 60  # read at most the limit, never the whole file


def test_report_file_that_is_a_directory(run_cli, fake_jd, jd_env, tmp_path):
    run = run_cli(env=jd_env | {"JDCDN_REPORT_FILE": str(tmp_path)})
    assert run.code == 2 and "report-file" in run.stderr and not fake_jd.calls


def test_github_error_is_an_annotation(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_MAX_URLS": "x"}, github=True)
    assert run.code == 2
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert errors == ["::error title=jdcdn-action bad input::max-urls: 'x' is not a whole "
                      "number."]


def test_debug_shows_traceback_but_no_secret(run_cli, fake_jd, jd_env):
    run = run_cli(["--debug"], env=jd_env | {"JDCDN_MAX_URLS": "x"})
    assert run.code == 2 and "Traceback" in run.stderr
    assert "debug: InputError" in run.stderr  # the refusal's own traceback
    assert SECRET not in run.log


def test_report_file_that_cannot_be_created(run_cli, fake_jd, jd_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = run_cli(env=jd_env | {"JDCDN_REPORT_FILE": str(blocker / "report.json")})
    assert run.code == 2 and "report-file: cannot create the folder" in run.stderr
    assert not fake_jd.calls


def test_github_summary_says_why_the_step_failed(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_BASE_URL": "ftp://x/"}, github=True)
    assert run.code == 2
    assert run.summary.startswith("## JD Cloud CDN: not run")
    assert "base-url: 'ftp://x/' must start with http:// or https://" in run.summary


def test_help_lists_every_setting_with_a_description_and_both_boolean_forms():
    from jdcdn_action.settings import build_parser
    from jdcdn_action.settings_table import SETTINGS

    text = " ".join(build_parser().format_help().split())
    for setting in SETTINGS:
        name = setting.name
        # its meaning, from the table (argparse may wrap it at a hyphen further on)
        start = " ".join(setting.help.replace("`", "").split()[:3])
        assert f"--{name} VALUE {start}" in text or f"--{name} {start}" in text, name
        if setting.kind == "bool":
            assert f"--no-{name} the opposite of --{name}" in text, name
    flags = [a for a in build_parser()._actions if a.option_strings]
    assert all(a.help for a in flags), [a.option_strings for a in flags if not a.help]


def test_a_repeated_list_flag_adds_up(run_cli, fake_jd, jd_env):
    run = run_cli(["--paths", "a.css", "--paths", "b.css", "--base-url",
                   "https://www.example.com/", "--base-url", "https://cdn.example.com/x/"],
                  env=jd_env | {"JDCDN_BASE_URL": ""}, github=True)
    assert run.code == 0, run.log
    assert run.json_output("urls") == [
        "https://cdn.example.com/x/a.css", "https://cdn.example.com/x/b.css",
        "https://www.example.com/a.css", "https://www.example.com/b.css"]


def test_a_missing_credential_names_every_spelling(run_cli, fake_jd, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_USERNAME": ""})
    assert run.code == 2
    assert "username is required: set --username, INPUT_USERNAME or JDCDN_USERNAME" \
        in run.stderr


def test_counts_in_messages_are_singular_for_one(run_cli, fake_jd, jd_env):
    run = run_cli(["--dry-run"], env=jd_env | {"JDCDN_PATHS": "a.css\nd/"})
    assert "1 file URL and 1 directory in 2 calls" in run.stdout
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css"})
    assert "batch 1/1 (1 URL): task" in run.stdout
    assert "Done: 1 call accepted, task ID " in run.stdout


@pytest.mark.parametrize("argv", [["--secretkey", "hunter2-typed-value"],
                                  ["--secretkey=hunter2-typed-value"],
                                  ["--secret", "hunter2-typed-value"]])
def test_a_mistyped_flag_is_named_without_its_value(run_cli, argv):
    """argparse repeats the words it did not know; one may be a secret. (``--secret`` is
    no abbreviation of ``--secret-key``: flags are spelt out.)"""
    run = run_cli([*argv, "--dry-run", "a.css"])
    assert run.code == 2
    assert f"command line: unknown option {argv[0].split('=')[0]}; see" in run.stderr
    assert "hunter2" not in run.stdout + run.stderr
