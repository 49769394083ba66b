"""Behind a company network: proxies, a company CA, and the true cause of every failure.

The fake JD servers (legacy and OpenAPI) answer HTTPS with a certificate signed by a CA the
test makes (``tests/tls.py``), sent with its chain as a TLS-inspecting gateway does. The
proxy (``tests/proxy.py``) runs on 127.0.0.1 and alone resolves ``jd-api.test``: a call
that reached the fake under that name went through it. Every run takes its proxy and CA
variables from the environment the test gives it, never from the test process's own.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fake_jd import FakeJd, Fault
from tests.fake_openapi import FakeOpenApi
from tests.helpers import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    BASE,
    SECRET,
    USERNAME,
    error_lines,
    unused_port,
    visible,
)
from tests.proxy import Proxy
from tests.tls import SERVER_NAME, CompanyCa, make_company_ca

UNTRUSTED = "certificate verify failed: self-signed certificate in certificate chain"
PROXY_USER = "ci-bot"
PROXY_PASSWORD = "Pr0xy-S3cret-p@ss/w0rd"  # @ and / percent-encoded in the URL
PROXY_PASSWORD_IN_URL = "Pr0xy-S3cret-p%40ss%2Fw0rd"


@pytest.fixture(scope="session")
def company_ca(tmp_path_factory: pytest.TempPathFactory) -> CompanyCa:
    return make_company_ca(tmp_path_factory.mktemp("company-ca"))


@dataclass
class Api:
    """A fake JD API (legacy or OpenAPI) on HTTPS, and the settings that reach it."""

    name: str
    server: FakeJd | FakeOpenApi

    @property
    def credentials(self) -> dict[str, str]:
        if self.name == "legacy":
            return {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET}
        return {"JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET}

    def env(self, host: str = "localhost", **more: str) -> dict[str, str]:
        return self.credentials | {
            "JDCDN_API_ENDPOINT": f"https://{host}:{self.server.port}",
            "JDCDN_BASE_URL": BASE, "JDCDN_PATHS": "a.css\nb.css", "JDCDN_TIMEOUT": "5",
            "JDCDN_MAX_ATTEMPTS": "3", "JDCDN_BACKOFF": "0.01"} | more


@pytest.fixture(params=["legacy", "openapi"])
def tls_api(request: pytest.FixtureRequest, company_ca: CompanyCa) -> Iterator[Api]:
    server = FakeJd(USERNAME, SECRET) if request.param == "legacy" else FakeOpenApi(
        ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    with server.serve_tls(company_ca.server_context(), SERVER_NAME):
        yield Api(request.param, server)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy(hosts={SERVER_NAME: "127.0.0.1"}) as server:
        yield server


# -- a company CA ----------------------------------------------------------------------------
def test_an_untrusted_certificate_is_named_with_its_host_and_not_retried(run_cli, tls_api):
    run = run_cli(env=tls_api.env(), github=True)

    assert run.code == 1, run.log
    assert tls_api.server.calls == []  # no request got past the handshake
    assert [b["attempts"] for b in run.report["batches"]] == [1]  # retrying cannot help
    final = error_lines(run)[-1]
    assert (f"Cause: {UNTRUSTED} (localhost); set ca-bundle if a proxy re-signs TLS."
            in final), final
    assert "max retries" not in run.log.lower()


CA_SPELLINGS = ["--ca-bundle", "INPUT_CA-BUNDLE", "JDCDN_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                "SSL_CERT_FILE"]


@pytest.mark.parametrize("spelling", CA_SPELLINGS)
def test_the_company_ca_is_trusted_from_each_setting(run_cli, tls_api, company_ca, spelling):
    args = ["--ca-bundle", str(company_ca.ca)] if spelling.startswith("--") else []
    env = {} if args else {spelling: str(company_ca.ca)}
    run = run_cli(args, env=tls_api.env(**env), github=True)

    assert run.code == 0, run.log
    assert tls_api.server.refreshed() == {BASE + "a.css", BASE + "b.css"}
    source = spelling if spelling in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE") else "ca-bundle"
    assert (f"Trusting the certificate authorities in {company_ca.ca} ({source}) besides "
            "the default ones.") in run.log
    assert run.report["settings"]["ca_files"] == [str(company_ca.ca)]


def test_the_extra_ca_adds_to_the_default_ones(company_ca):
    """Unit: the context trusts certifi's CAs and the company's, not one instead of the
    other (REQUESTS_CA_BUNDLE alone would replace them)."""
    import requests

    from jdcdn_action.api.http import tls_context
    from jdcdn_action.network import CaFile

    public = tls_context(()).get_ca_certs()
    both = tls_context((CaFile(str(company_ca.ca), "ca-bundle"),)).get_ca_certs()
    assert len(public) > 100 and len(both) == len(public) + 1
    assert all(ca in both for ca in public)
    names = [dict(pair[0] for pair in ca["subject"]).get("commonName") for ca in both]
    assert "Example Corp TLS Inspection CA" in names
    assert Path(requests.certs.where()).is_file()


BAD_FILES = {
    "missing": (None, "does not exist"),
    "a folder": ("folder", "is a folder"),
    "empty": ("", "holds no certificate"),
    "a key, no certificate": ("-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n",
                              "holds no certificate"),
    "a broken certificate": ("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                             "-----END CERTIFICATE-----\n",
                             "holds a certificate that cannot be read"),
}


@pytest.mark.parametrize("spelling", ["JDCDN_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_ca_file_is_exit_2_naming_the_setting(run_cli, fake_jd, jd_env, tmp_path,
                                                   spelling, kind):
    text, said = BAD_FILES[kind]
    path = tmp_path / "company-ca.pem"
    if text == "folder":
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    run = run_cli(env=jd_env | {spelling: str(path), "JDCDN_PATHS": "a.css"}, github=True)

    assert run.code == 2, run.log
    [error] = error_lines(run)
    name = "ca-bundle" if spelling == "JDCDN_CA_BUNDLE" else spelling
    assert f"{name}: '{path}' {said}" in error, error
    assert "Traceback" not in run.log
    assert fake_jd.calls == []


def test_an_unreadable_ca_file_is_exit_2(run_cli, fake_jd, jd_env, tmp_path, company_ca):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "ca.pem"
    path.write_bytes(company_ca.ca.read_bytes())
    path.chmod(0)
    run = run_cli(env=jd_env | {"JDCDN_CA_BUNDLE": str(path), "JDCDN_PATHS": "a.css"})
    assert run.code == 2 and "ca-bundle" in run.log and "cannot be read" in run.log
    assert fake_jd.calls == []


# -- proxies ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_calls_go_through_the_proxy(run_cli, tls_api, company_ca, proxy, variable):
    run = run_cli(env=tls_api.env(SERVER_NAME, **{variable: proxy.url,
                                                  "JDCDN_CA_BUNDLE": str(company_ca.ca)}),
                  github=True)

    assert run.code == 0, run.log
    assert tls_api.server.refreshed() == {BASE + "a.css", BASE + "b.css"}
    assert set(proxy.targets()) == {f"{SERVER_NAME}:{tls_api.server.port}"}
    assert f"Calls go through the proxy {proxy.url} ({variable})." in run.log
    assert run.report["settings"]["proxy"] == proxy.url


def test_a_re_signing_proxy_without_ca_bundle_names_the_certificate_problem(
        run_cli, tls_api, proxy):
    run = run_cli(env=tls_api.env(SERVER_NAME, HTTPS_PROXY=proxy.url), github=True)

    assert run.code == 1, run.log
    assert proxy.targets()  # the tunnel was open; the certificate is what failed
    assert f"Cause: {UNTRUSTED} ({SERVER_NAME}); set ca-bundle" in error_lines(run)[-1]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_plain_http_goes_through_http_proxy(run_cli, fake_jd, jd_env, proxy, variable):
    run = run_cli(env=jd_env | {variable: proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9",
                                "JDCDN_PATHS": "a.css"}, github=True)

    assert run.code == 0, run.log
    assert proxy.targets() == [f"{fake_jd.endpoint}/api/refresh"]
    assert fake_jd.refreshed() == {BASE + "a.css"}


@pytest.mark.parametrize("no_proxy", [("NO_PROXY", "localhost"),
                                      ("no_proxy", "example.com, .localhost"),
                                      ("NO_PROXY", "*")])
def test_no_proxy_bypasses_the_proxy(run_cli, tls_api, company_ca, proxy, no_proxy):
    name, value = no_proxy
    run = run_cli(env=tls_api.env(HTTPS_PROXY=proxy.url, JDCDN_CA_BUNDLE=str(company_ca.ca),
                                  **{name: value}), github=True)

    assert run.code == 0, run.log
    assert proxy.seen == []
    assert "through the proxy" not in run.log


def test_a_proxy_that_wants_credentials_says_so(run_cli, tls_api, company_ca):
    with Proxy({SERVER_NAME: "127.0.0.1"}, (PROXY_USER, PROXY_PASSWORD)) as proxy:
        run = run_cli(env=tls_api.env(SERVER_NAME, HTTPS_PROXY=proxy.url,
                                      JDCDN_CA_BUNDLE=str(company_ca.ca)), github=True)

    assert run.code == 1, run.log
    assert [seen.status for seen in proxy.seen] == [407]  # permanent: asked once
    assert (f"Cause: the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) answered 407 Proxy "
            "Authentication Required: the proxy wants credentials") in error_lines(run)[-1]


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy"])
def test_proxy_credentials_are_sent_and_printed_nowhere(run_cli, tls_api, fake_jd,
                                                        company_ca, variable):
    """With --debug, on success and on a refusal: the password (as written, decoded, or
    in the Proxy-Authorization header) is in no line, output, summary or report."""
    with Proxy({SERVER_NAME: "127.0.0.1"}, (PROXY_USER, PROXY_PASSWORD)) as proxy:
        url = f"http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:{proxy.port}"
        if variable == "HTTPS_PROXY":
            env = tls_api.env(SERVER_NAME, JDCDN_CA_BUNDLE=str(company_ca.ca))
        else:
            env = {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET,
                   "JDCDN_API_ENDPOINT": fake_jd.endpoint, "JDCDN_BASE_URL": BASE,
                   "JDCDN_PATHS": "a.css\nb.css"}
        good = run_cli(["--debug"], env=env | {variable: url}, github=True)
        wrong = url.replace(PROXY_PASSWORD_IN_URL, PROXY_PASSWORD_IN_URL + "-old")
        refused = run_cli(["--debug"], env=env | {variable: wrong}, github=True)

    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert good.code == 0, good.log
    assert proxy.seen[0].authorization == f"Basic {basic}"
    assert refused.code == 1 and "answered 407" in error_lines(refused)[-1]
    for run in (good, refused):
        shown = f"http://***@127.0.0.1:{proxy.port}"
        assert f"Calls go through the proxy {shown} ({variable})." in run.log
        assert run.report["settings"]["proxy"] == shown
        for text in (run.log, run.summary, str(run.outputs), str(run.report)):
            for secret in (PROXY_PASSWORD, PROXY_PASSWORD_IN_URL, basic):
                assert secret not in visible(text)
        assert f"::add-mask::{PROXY_PASSWORD}" in run.log  # GitHub hides it too


@pytest.mark.parametrize("value, said", [
    (f"socks5://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:1080", "not an http://"),
    (f"http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:99999", "bad host or port"),
    ("http://:3128", "names no host"),
])
def test_a_malformed_proxy_is_exit_2_without_its_password(run_cli, fake_jd, jd_env, value,
                                                          said):
    run = run_cli(env=jd_env | {"HTTPS_PROXY": value, "JDCDN_PATHS": "a.css"}, github=True)

    assert run.code == 2, run.log
    [error] = error_lines(run)
    assert "HTTPS_PROXY" in error and said in error, error
    assert PROXY_PASSWORD_IN_URL not in visible(run.log)
    assert PROXY_PASSWORD not in visible(run.log)
    assert fake_jd.calls == []


@pytest.mark.parametrize("host, port, entries, bypass", [
    ("api.example.com", 443, "example.com", True),
    ("example.com", 443, ".example.com", True),
    ("api.example.com", 443, "*.example.com", True),
    ("badexample.com", 443, "example.com", False),  # a domain, not a suffix of letters
    ("10.1.2.3", 443, "10.0.0.0/8", True),
    ("10.1.2.3", 443, "10.0.0.0/8:8443", False),
    ("jd.example", 8443, "other.example jd.example:8443", True),
    ("jd.example", 443, "jd.example:8443", False),
    ("::1", 443, "::1", True),
    ("::1", 8080, "[::1]:8080", True),
    ("anything.example", 80, "*", True),
    ("jd.example", 443, "", False),
])
def test_no_proxy_entries(host, port, entries, bypass):
    from jdcdn_action.network import bypasses, split_no_proxy

    assert bypasses(host, port, split_no_proxy(entries)) is bypass


def test_a_proxy_password_is_in_no_repr_and_every_form_is_masked():
    from jdcdn_action.network import proxy_secrets
    from jdcdn_action.settings import load

    url = f"http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@proxy.corp.example:3128"
    settings = load(["--dry-run", "--base-url", BASE], {"https_proxy": url})
    assert settings.network.https is not None and settings.network.https.url == url
    assert PROXY_PASSWORD_IN_URL not in repr(settings)
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert set(proxy_secrets({"https_proxy": url})) == {PROXY_PASSWORD_IN_URL, PROXY_PASSWORD,
                                                       basic}


# -- the true cause, named -------------------------------------------------------------------
def test_a_name_that_does_not_resolve_is_named(run_cli, jd_env):
    run = run_cli(env=jd_env | {"JDCDN_API_ENDPOINT": "https://jd-api.invalid",
                                "JDCDN_PATHS": "a.css", "JDCDN_MAX_ATTEMPTS": "2"},
                  github=True)

    assert run.code == 1
    assert "Cause: the name jd-api.invalid does not resolve" in error_lines(run)[-1]


def test_a_closed_port_is_named_with_host_and_port(run_cli, jd_env):
    port = unused_port()
    run = run_cli(env=jd_env | {"JDCDN_API_ENDPOINT": f"http://127.0.0.1:{port}",
                                "JDCDN_PATHS": "a.css", "JDCDN_MAX_ATTEMPTS": "2"},
                  github=True)

    assert run.code == 1
    assert f"Cause: 127.0.0.1:{port} refused the connection" in error_lines(run)[-1]


def test_a_closed_proxy_port_names_the_proxy(run_cli, tls_api):
    port = unused_port()
    run = run_cli(env=tls_api.env(SERVER_NAME, HTTPS_PROXY=f"127.0.0.1:{port}",
                                  JDCDN_MAX_ATTEMPTS="2"), github=True)

    assert run.code == 1
    assert (f"Cause: the proxy 127.0.0.1:{port} (HTTPS_PROXY) refused the connection; "
            "check HTTPS_PROXY") in error_lines(run)[-1]


def test_a_host_the_proxy_cannot_reach_names_the_proxy_and_its_answer(run_cli, jd_env, proxy):
    run = run_cli(env=jd_env | {"JDCDN_API_ENDPOINT": "https://jd-api.invalid",
                                "HTTPS_PROXY": proxy.url, "JDCDN_PATHS": "a.css",
                                "JDCDN_MAX_ATTEMPTS": "2"}, github=True)

    assert run.code == 1
    assert (f"Cause: the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) could not reach "
            "jd-api.invalid:443 (502 Bad Gateway)") in error_lines(run)[-1]


def test_debug_shows_the_whole_story(run_cli, tls_api, company_ca):
    with Proxy({SERVER_NAME: "127.0.0.1"}, (PROXY_USER, PROXY_PASSWORD)) as proxy:
        run = run_cli(["--debug"], env=tls_api.env(SERVER_NAME, HTTPS_PROXY=proxy.url))

    assert run.code == 1
    debug = [line for line in run.stderr.splitlines() if line.startswith("debug:")]
    story = "\n".join(debug)
    assert "its story:" in story
    for link in ("requests.exceptions.ProxyError", "urllib3.exceptions.MaxRetryError",
                 "OSError: Tunnel connection failed: 407 Proxy Authentication Required"):
        assert link in story, story


@pytest.mark.parametrize("fault", ["trickle", "trickle-head"])
def test_a_trickle_meets_the_timeout_in_headers_or_body(run_cli, fake_jd, jd_env, fault):
    fake_jd.script("/api/refresh", Fault(fault, code=200, seconds=0.05))  # 10 s in all
    start = time.monotonic()
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css", "JDCDN_TIMEOUT": "0.5",
                                "JDCDN_MAX_ATTEMPTS": "1"}, github=True)
    wall = time.monotonic() - start

    assert run.code == 1
    assert wall < 4, f"the run took {wall:.1f}s with timeout 0.5"  # a bound on hangs
    assert (f"Cause: no answer from 127.0.0.1:{fake_jd.port} within 0.5 s (timeout)"
            in error_lines(run)[-1])


# -- nothing outlives its request ------------------------------------------------------------
def client_sockets(port: int) -> list[str]:
    """The sockets of this process connected to 127.0.0.1:``port`` (the client's ends,
    not the server's, which listen on that port)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == port:
                found.append(line)
    return found


def client_threads(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before`` that are not the fake servers' own."""
    return [t.name for t in threading.enumerate() if t not in before and t.is_alive()
            and not t.name.endswith(("(process_request_thread)", "(serve_forever)", "(serve)"))]


ATTEMPTS = 3
CALLS = 4
# The request's timeout on each route: ten times what a request takes to reach the fake
# here at most (a tunnel through the proxy and its TLS handshake take longest).
TIMEOUTS = {"direct": 0.1, "tls": 0.1, "tls-proxy": 0.25}


@pytest.mark.parametrize("fault, route", [
    ("trickle", "direct"), ("trickle-head", "direct"), ("sleep", "direct"),
    ("trickle", "tls"), ("trickle-head", "tls-proxy")])
def test_timed_out_attempts_leave_no_thread_or_socket(company_ca, fault, route):
    """12 timed-out attempts (4 calls of 3): after each call, no connection to the server
    (or the proxy) is left open and no thread is left running; after close, none either."""
    from jdcdn_action.api.legacy import LegacyApi
    from jdcdn_action.network import load_network

    before = set(threading.enumerate())
    timeout = TIMEOUTS[route]
    # Each byte comes well within the timeout, so only the whole-request deadline ends it.
    faults = [Fault(fault, code=400, seconds=timeout / 5 if fault != "sleep" else 3.0)]
    server = FakeJd(USERNAME, SECRET)
    if route != "direct":
        server.serve_tls(company_ca.server_context(),
                         SERVER_NAME if route == "tls-proxy" else "localhost")
    with server, Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        server.script("/api/refresh", *faults * (ATTEMPTS * CALLS))
        env = {"HTTPS_PROXY": proxy.url} if route == "tls-proxy" else {}
        api = LegacyApi(server.endpoint, USERNAME, SECRET, dt.UTC, timeout=timeout,
                        max_attempts=ATTEMPTS, backoff=0.01,
                        network=load_network(str(company_ca.ca), env))

        def left_open() -> list[str]:
            # The client connects to the proxy, or to the server directly. (The proxy's
            # own sockets to the server are this process's too, and not the client's.)
            return client_sockets(proxy.port if env else server.port)

        start = time.monotonic()
        try:
            for n in range(CALLS):
                result = api.submit("file", [f"{BASE}f{n}.css"])
                assert not result.ok and result.attempts == ATTEMPTS
                assert f"within {timeout:g} s" in result.error, result.error
                assert left_open() == [], f"after call {n + 1}"
                assert client_threads(before) == [], f"after call {n + 1}"
        finally:
            api.close()
        wall = time.monotonic() - start  # a bound on hangs: the timeout an attempt, and slack
        assert wall < ATTEMPTS * CALLS * timeout + 5, f"{wall:.1f}s for 12 attempts"
        assert len(server.requests()) == ATTEMPTS * CALLS
        assert len(proxy.seen) == (ATTEMPTS * CALLS if route == "tls-proxy" else 0)
        assert left_open() == []
        assert client_threads(before) == []


def test_a_long_wait_on_trickling_polls_leaves_nothing_behind(run_cli, fake_jd, jd_env):
    """Polls whose answers trickle time out one after another, and the wait goes on until
    the task is done: no poll leaves its thread or connection behind."""
    before = set(threading.enumerate())
    fake_jd.task_script["refresh"] = (2, 0)  # done at the third answered poll
    # Each trickle takes a poll's least timeout (0.5 s), however short the setting.
    fake_jd.script("/api/refreshQuery", *[Fault("trickle", code=400, seconds=0.05)] * 4)
    run = run_cli(env=jd_env | {"JDCDN_PATHS": "a.css", "JDCDN_WAIT": "true",
                                "JDCDN_TIMEOUT": "0.3", "JDCDN_MAX_ATTEMPTS": "10",
                                "JDCDN_BACKOFF": "0.001", "JDCDN_POLL_INTERVAL": "0.05",
                                "JDCDN_WAIT_TIMEOUT": "60"},
                  github=True)

    assert run.code == 0, run.log
    assert run.report["pending_task_ids"] == []
    assert len(fake_jd.requests("/api/refreshQuery")) == 4 + 3  # the trickles, the answers
    assert client_sockets(fake_jd.port) == []
    assert client_threads(before) == []
