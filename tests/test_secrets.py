"""The key and its signatures never appear, with debugging on, whatever the run does.

run_cli checks stdout, stderr, GITHUB_OUTPUT, the summary, the report and the dotenv file
of every run for the fixture secret and every signature derived from it; these scenarios
make sure that check sees debug output of every stage.
"""

from __future__ import annotations

import json

import pytest

from tests.fake_jd import ECHO_FORMS, EchoFault, FakeJd, Fault
from tests.fake_openapi import FakeOpenApi
from tests.gitrepo import Repo
from tests.helpers import (
    ACCESS_KEY_ID,
    EXTRA_LEGACY_KEYS,
    EXTRA_SECRETS,
    USERNAME,
    Run,
    text_forms,
)

DEBUG = {"RUNNER_DEBUG": "1", "JDCDN_DEBUG": "true"}

# name: (settings, faults of the refresh calls, exit code, calls made)
SCENARIOS = {
    "sent-after-retries": ({"JDCDN_PATHS": "a.css\nb/"},
                           [Fault("http", code=500), Fault("jd", status=8)], 0, 4),
    # rejected with the configured date, accepted with UTC's (one more call each)
    "signature-rejected": ({"JDCDN_PATHS": "a.css", "JDCDN_SIGNATURE_TIMEZONE": "-12:00"},
                           [], 0, 2),
    "permanent-failure": ({"JDCDN_PATHS": "a.css"}, [Fault("jd", status=15)], 1, 1),
    "wait-and-prefetch": ({"JDCDN_PATHS": "a.css\nb.css", "JDCDN_WAIT": "true",
                           "JDCDN_PREFETCH": "true", "JDCDN_POLL_INTERVAL": "0.05"}, [], 0, 4),
    "dry-run": ({"JDCDN_PATHS": "a.css", "JDCDN_DRY_RUN": "true"}, [], 0, 0),
    "bad-input": ({"JDCDN_PATHS": "../x"}, [], 2, 0),
}


@pytest.mark.parametrize("where", ["github", "gitlab"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_secret_with_debug_on(run_cli, fake_jd, jd_env, where, name):
    env, faults, code, calls = SCENARIOS[name]
    fake_jd.script("/api/refresh", *faults)
    run = run_cli(["--debug"], env=jd_env | DEBUG | env, github=where == "github",
                  gitlab=where == "gitlab")
    assert run.code == code, run.log
    assert len(fake_jd.calls) == calls
    # Each signed call's debug lines were there to be checked, the signature masked.
    assert run.log.count("signature=***") >= calls
    assert ("signature=" in run.log) == (calls > 0)


def test_no_secret_with_debug_on_in_a_git_diff_run(run_cli, fake_jd, jd_env, tmp_path):
    repo = Repo.init(tmp_path / "repo", tmp_path / "home")
    base = repo.commit("one", "index.html")
    repo.commit("two", "docs/index.html")
    run = run_cli(["--debug"], cwd=repo.path, github=True,
                  env=jd_env | DEBUG | {"JDCDN_GIT_DIFF": "true", "JDCDN_GIT_BASE": base})
    assert run.code == 0, run.log
    assert fake_jd.refreshed() == {"https://www.example.com/docs/index.html",
                                   "https://www.example.com/docs/"}


# -- a server that echoes everything it was sent -----------------------------------------
# Credentials with every character that escaping changes (an STS token is base64-like).
NASTY_TOKEN = "sts/T0k+en=\"q'%<|&~-0123456789abcdefSTS"
NASTY_SECRET = "oa/K3y+\"q'%<|&~\\-0123456789abcdefSECRET"
NASTY_LEGACY_SECRET = "lg/K3y+\"q'%<|&~\\-0123456789abcdefLEGACY"
EXTRA_SECRETS.update({NASTY_TOKEN, NASTY_SECRET, NASTY_LEGACY_SECRET})
EXTRA_LEGACY_KEYS.add((USERNAME, NASTY_LEGACY_SECRET))
# Filler that moves the credentials to where the client cuts a long server message (200
# characters in errors, 300 in debug lines), so that only their first characters are left.
CUT = 180
FRAGMENT = 8  # no run of this many characters of a secret may be left anywhere


def channels(run: Run) -> dict[str, str]:
    log = "\n".join(line for line in run.log.splitlines()
                    if not line.startswith("::add-mask::"))
    return {"log": log, "outputs": json.dumps(run.outputs), "summary": run.summary,
            "report": json.dumps(run.report, ensure_ascii=False),
            "dotenv": json.dumps(run.dotenv)}


def assert_no_fragment(run: Run, values: list[str]) -> None:
    """Not even part of a secret: every run of FRAGMENT characters of every form."""
    for where, text in channels(run).items():
        for value in values:
            for form in text_forms(value):
                for start in range(len(form) - FRAGMENT + 1):
                    piece = form[start:start + FRAGMENT]
                    assert piece not in text, f"part of a secret ({piece!r}) is in the {where}"


@pytest.mark.parametrize("lead", [0, CUT], ids=["whole", "cut"])
@pytest.mark.parametrize("form", list(ECHO_FORMS))
def test_an_echoing_gateway_gets_no_credential_into_any_channel(run_cli, form, lead):
    """OpenAPI with STS credentials; the gateway answers 401 with ``token <token>
    signature <sig> does not match``, then every header and the body, in one form."""
    with FakeOpenApi(ACCESS_KEY_ID, NASTY_SECRET, NASTY_TOKEN) as api:
        api.script("/v1/task", EchoFault(form=form, lead=lead))
        env = DEBUG | {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID,
                       "JDCDN_ACCESS_KEY_SECRET": NASTY_SECRET,
                       "JDCDN_SECURITY_TOKEN": NASTY_TOKEN, "JDCDN_PATHS": "a.css\nb/",
                       "JDCDN_CONCURRENCY": "1",
                       "JDCDN_API_ENDPOINT": api.endpoint,
                       "JDCDN_BASE_URL": "https://www.example.com/"}
        run = run_cli(["--debug"], env=env, github=True, gitlab=True)
        sent = [c.headers["Authorization"].rpartition("Signature=")[2] for c in api.calls]
    assert run.code == 1, run.log
    # the 401 stopped the other call (the quota read before it was answered)
    assert [c.path for c in api.calls if c.method == "POST"] == ["/v1/task"]
    # The echo reached every channel, masked: the check below had something to find.
    error = run.report["batches"][0]["error"]
    assert error.startswith("HTTP 401 UNAUTHENTICATED") and "***" in error, error
    assert "***" in run.summary and "***" in run.log
    assert run.dotenv["JDCDN_FAILED_COUNT"] == "2"
    assert_no_fragment(run, [NASTY_TOKEN, NASTY_SECRET, *sent])


@pytest.mark.parametrize("lead", [0, CUT], ids=["whole", "cut"])
@pytest.mark.parametrize("form", list(ECHO_FORMS))
def test_an_echoing_legacy_api_gets_no_signature_into_any_channel(run_cli, form, lead):
    """The legacy API answers JD status 7 whose msg echoes the signature, every header
    and the body."""
    with FakeJd(username=USERNAME, secret=NASTY_LEGACY_SECRET) as jd:
        jd.script("/api/refresh", EchoFault(form=form, lead=lead, status=7),
                  EchoFault(form=form, lead=lead, status=7))
        env = DEBUG | {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": NASTY_LEGACY_SECRET,
                       "JDCDN_PATHS": "a.css", "JDCDN_API_ENDPOINT": jd.endpoint,
                       "JDCDN_BASE_URL": "https://www.example.com/"}
        run = run_cli(["--debug"], env=env, github=True, gitlab=True)
        sent = [c.body["signature"] for c in jd.calls]
    assert run.code == 1, run.log
    error = run.report["batches"][0]["error"]
    assert error.startswith("JD status 7 (") and "***" in error, error
    assert "***" in run.summary and "***" in run.log
    assert_no_fragment(run, [NASTY_LEGACY_SECRET, *sent])


@pytest.mark.parametrize("form", list(ECHO_FORMS))
def test_an_echoing_status_query_gets_no_credential_into_any_channel(run_cli, form):
    """The refresh is accepted; the status query is answered 400 with the echo: the
    task's detail (report ``tasks``, log) holds it, masked."""
    with FakeOpenApi(ACCESS_KEY_ID, NASTY_SECRET, NASTY_TOKEN) as api:
        api.script("/v1/task:queryByIds", EchoFault(code=400, form=form, lead=CUT))
        env = DEBUG | {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID,
                       "JDCDN_ACCESS_KEY_SECRET": NASTY_SECRET,
                       "JDCDN_SECURITY_TOKEN": NASTY_TOKEN, "JDCDN_PATHS": "a.css",
                       "JDCDN_API_ENDPOINT": api.endpoint, "JDCDN_WAIT": "true",
                       "JDCDN_POLL_INTERVAL": "0.01", "JDCDN_MAX_ATTEMPTS": "1",
                       "JDCDN_BASE_URL": "https://www.example.com/"}
        run = run_cli(["--debug"], env=env, github=True, gitlab=True)
        sent = [c.headers["Authorization"].rpartition("Signature=")[2] for c in api.calls]
    assert run.code == 0, run.log
    [task] = run.report["tasks"]
    assert task["state"] == "unknown" and "***" in task["detail"], task
    assert run.json_output("pending-task-ids") == [task["task_id"]]
    assert_no_fragment(run, [NASTY_TOKEN, NASTY_SECRET, *sent])



def test_a_task_id_holding_the_token_is_masked_in_the_outputs_and_dotenv(run_cli):
    """A server may put anything in a task ID, the token it was sent too: the outputs and
    the dotenv file (which %-encode odd IDs) show the mask instead."""
    with FakeOpenApi(ACCESS_KEY_ID, NASTY_SECRET, NASTY_TOKEN) as api:
        api.task_id_factory = lambda: "task-" + NASTY_TOKEN
        env = DEBUG | {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID,
                       "JDCDN_ACCESS_KEY_SECRET": NASTY_SECRET,
                       "JDCDN_SECURITY_TOKEN": NASTY_TOKEN, "JDCDN_PATHS": "a.css",
                       "JDCDN_API_ENDPOINT": api.endpoint, "JDCDN_WAIT": "true",
                       "JDCDN_POLL_INTERVAL": "0.01",
                       "JDCDN_BASE_URL": "https://www.example.com/"}
        run = run_cli(["--debug"], env=env, github=True, gitlab=True)
    assert run.code == 0, run.log
    assert run.outputs["task-id"] == "task-***"
    assert run.json_output("task-ids") == ["task-***"]
    assert run.dotenv["JDCDN_TASK_ID"] == "task-%2A%2A%2A"
    assert run.report["task_ids"] == ["task-***"]

# -- pasted characters in credentials ------------------------------------------------------
CREDENTIALS = {  # setting -> (the API it belongs to, a good value)
    "username": ("legacy", USERNAME),
    "secret-key": ("legacy", "LgcyKeyValue0123456789"),
    "access-key-id": ("openapi", ACCESS_KEY_ID),
    "access-key-secret": ("openapi", "OpnApiKeyValue0123456789"),
    "security-token": ("openapi", "StsTknValue0123456789abcdef"),
}
PASTED = {  # how: (where the character goes, the character)
    "zero-width-space-at-the-end": (None, "\u200b"),
    "curly-quote-inside": (6, "\u2019"),
    "no-break-space-inside": (6, "\u00a0"),
    "accented-letter": (3, "\u00e9"),
    "space-inside": (6, " "),
    "tab-inside": (6, "\t"),
    "delete-character": (6, "\x7f"),
}


@pytest.mark.parametrize("how", list(PASTED))
@pytest.mark.parametrize("name", list(CREDENTIALS))
def test_a_credential_outside_printable_ascii_is_refused_without_its_value(
        run_cli, fake_jd, fake_openapi, name, how):
    api, good = CREDENTIALS[name]
    where, char = PASTED[how]
    bad = good + char if where is None else good[:where] + char + good[where:]
    if api == "legacy":
        env = {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": "legacy-secret-0123456789",
               "JDCDN_API_ENDPOINT": fake_jd.endpoint}
    else:
        env = {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": "x" * 24,
               "JDCDN_SECURITY_TOKEN": "t" * 24, "JDCDN_API_ENDPOINT": fake_openapi.endpoint}
    env |= DEBUG | {f"INPUT_{name.upper()}": bad, "JDCDN_PATHS": "a.css",
                    "JDCDN_BASE_URL": "https://www.example.com/"}
    run = run_cli(["--debug"], env=env, github=True)
    assert run.code == 2, run.log
    assert not fake_jd.calls and not fake_openapi.calls
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, run.stdout
    assert f"{name}: " in errors[0] and f"U+{ord(char):04X}" in errors[0], errors[0]
    # Neither the value, nor what it holds around the odd character, in any form.
    visible = "\n".join(line for line in run.stdout.splitlines()
                        if not line.startswith("::add-mask::"))
    for channel in (visible, run.stderr, run.summary):
        for part in (bad, good[:6], good[6:], repr(bad)[1:-1]):
            assert part not in channel, (part, channel)
    assert "U+" in run.summary and name in run.summary


def test_odd_characters_of_credentials_do_not_stop_the_masking(run_cli, fake_jd, jd_env):
    """Masked before they are checked: a secret full of odd characters is registered and
    refused, whatever the order of the settings."""
    # \udcff: an invalid UTF-8 byte, as Python reads it from the environment
    odd = "\u200b\u2019\udcff\U0001f600 \\'\"%0A"
    run = run_cli(env=jd_env | {"JDCDN_SECRET_KEY": odd, "JDCDN_SECURITY_TOKEN": odd,
                                "JDCDN_API": "legacy"}, github=True, subprocess_run=True)
    assert run.code == 2, run.log
    assert "secret-key: " in run.stdout and "Traceback" not in run.log
    visible = [line for line in run.log.splitlines() if not line.startswith("::add-mask::")]
    assert not any("\u2019" in line or "\U0001f600" in line for line in visible)


# -- user info in URLs ---------------------------------------------------------------------
USER_INFO = [  # (setting, value with user info, what the one error line must show)
    ("api-endpoint", "http://jd:hunter2pw@127.0.0.1:{port}",
     "api-endpoint: 'http://***@127.0.0.1:{port}'"),
    ("api-endpoint", "https://jd:hunter2pw@cdn.jdcloud-api.com/",
     "api-endpoint: 'https://***@cdn.jdcloud-api.com/'"),
    ("api-endpoint", "http://hunter2pw@127.0.0.1:{port}", "'http://***@127.0.0.1:{port}'"),
    ("api-endpoint", "ftp://jd:hunter2pw@127.0.0.1:{port}", "'ftp://***@127.0.0.1:{port}'"),
    ("api-endpoint", "http://jd:hunter2pw@127.0.0.1:{port}?x#y",
     "'http://***@127.0.0.1:{port}?x#y'"),
    ("api-endpoint", "http://jd:hunter2@pw@127.0.0.1:{port}", "'http://***@127.0.0.1:{port}'"),
    ("base-url", "https://jd:hunter2pw@www.example.com/", "'https://***@www.example.com/'"),
    ("base-url", "ftp://jd:hunter2pw@www.example.com/", "'ftp://***@www.example.com/'"),
    ("base-url", "https://jd:hunter2pw@www.example.com/?a", "'https://***@www.example.com/?a'"),
    ("paths", "https://jd:hunter2pw@www.example.com/a", "'https://***@www.example.com/a'"),
    ("paths", "https://hunter2pw@www.example.com/a", "'https://***@www.example.com/a'"),
    ("paths", "ftp://jd:hunter2pw@www.example.com/a", "'ftp://***@www.example.com/a'"),
    ("paths", "//jd:hunter2pw@www.example.com/a", "'//***@www.example.com/a'"),
    ("paths", "https://jd:hunter2pw@www.example.com/a#top",
     "'https://***@www.example.com/a#top'"),
]


@pytest.mark.parametrize("name, value, shown", USER_INFO,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(USER_INFO)])
def test_user_info_in_a_url_is_refused_and_never_shown(run_cli, fake_jd, jd_env, name,
                                                       value, shown):
    value, shown = (text.format(port=fake_jd.port) for text in (value, shown))
    run = run_cli(env=DEBUG | jd_env | {"JDCDN_PATHS": "a.css",
                                        f"INPUT_{name.upper()}": value}, github=True)
    assert run.code == 2, run.log
    assert not fake_jd.calls
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and shown in errors[0], run.stdout
    assert f"{name if name != 'paths' else 'paths'}: " in errors[0]
    assert "user name or password" in errors[0]
    for channel in (run.log, run.summary):
        assert "hunter2" not in channel and "jd:" not in channel, channel
    assert "***@" in run.summary


def test_netrc_credentials_never_replace_the_signature(tmp_path, monkeypatch):
    """requests would send a ``.netrc`` login for the endpoint's host as ``Authorization:
    Basic``, replacing the OpenAPI signature (and handing the password to that host)."""
    import responses

    from jdcdn_action.api.http import new_session
    from jdcdn_action.network import Network

    netrc = tmp_path / "netrc"
    netrc.write_text("machine cdn.jdcloud-api.com login jd password hunter2pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://cdn.jdcloud-api.com/v1/task", json={})
        new_session(Network(), 1).post("https://cdn.jdcloud-api.com/v1/task", data=b"{}",
                            headers={"Authorization": "JDCLOUD2-HMAC-SHA256 signed"})
        new_session(Network(), 1).post("https://cdn.jdcloud-api.com/v1/task", data=b"{}")
        sent = [call.request.headers.get("Authorization") for call in mock.calls]
    assert sent == ["JDCLOUD2-HMAC-SHA256 signed", None]


# -- exception text ------------------------------------------------------------------------
def crash_with(*values: str) -> Exception:
    """A bug whose text holds setting values: repr, str and args all carry them."""
    return UnicodeEncodeError("latin-1", " ".join(values) + "\u200b", 0, 1,
                              f"cannot encode {values!r} for user jd-pin-4421")


@pytest.mark.parametrize("stage", ["send", "query", "run"])
def test_no_exception_text_carries_a_setting_value_into_any_channel(
        run_cli, fake_openapi, openapi_env, monkeypatch, stage):
    """A bug while sending (a batch fails: http.client could not encode a header), while
    polling (a task is unknown) or in the run itself (the command stops): its text names
    the setting values it was given; the channels say what broke and where, never that
    text."""
    fake_openapi.add_key(ACCESS_KEY_ID, NASTY_SECRET, NASTY_TOKEN)
    values = (NASTY_TOKEN, NASTY_SECRET)
    if stage == "send":
        import jdcdn_action.api.transport as transport

        def post(*_args, **_kwargs):
            raise crash_with(*values)

        monkeypatch.setattr(transport, "request_within", post)
    elif stage == "query":
        from jdcdn_action.api.openapi import OpenApi

        def query(*_args, **_kwargs):
            raise crash_with(*values)

        monkeypatch.setattr(OpenApi, "query", query)
    else:
        import jdcdn_action.run

        def run(*_args, **_kwargs):
            raise crash_with(*values)

        monkeypatch.setattr(jdcdn_action.run, "run", run)
    env = openapi_env | DEBUG | {"JDCDN_ACCESS_KEY_SECRET": NASTY_SECRET,
                                 "JDCDN_SECURITY_TOKEN": NASTY_TOKEN, "JDCDN_PATHS": "a.css",
                                 "JDCDN_WAIT": "true", "JDCDN_POLL_INTERVAL": "0.01"}
    run = run_cli(["--debug"], env=env, github=True, gitlab=True)
    assert run.code == (0 if stage == "query" else 1), run.log
    said = {"send": lambda: run.report["batches"][0]["error"],
            "query": lambda: run.report["tasks"][0]["detail"],
            "run": lambda: run.summary}[stage]()
    assert "internal error: UnicodeEncodeError" in said, said
    assert "internal error: UnicodeEncodeError" in run.log
    channels_text = "\n".join(channels(run).values())
    for value in values:
        for form in text_forms(value):
            assert form not in channels_text, form
    for text in ("cannot encode", "latin-1", "jd-pin-4421"):
        assert text not in channels_text
