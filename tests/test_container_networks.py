"""The image behind a company network: a proxy on 127.0.0.1 (``--network host``) that
alone resolves ``jd-api.test``, a fake JD API whose certificate a company CA signs, and
``ca-bundle`` naming a file in the workspace, run as GitHub's runner and as a GitLab job
run it (``tests/test_container.py``). Skipped without Docker, as those are.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator

import pytest

from tests.container import GitHubJob, gitlab_job, make_site
from tests.fake_jd import FakeJd
from tests.fake_openapi import FakeOpenApi
from tests.helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BASE, SECRET, USERNAME, visible
from tests.proxy import Proxy
from tests.tls import SERVER_NAME, CompanyCa, make_company_ca

PROXY_USER = "ci-bot"
PROXY_PASSWORD = "Pr0xy-S3cret-in-the-container"
UNTRUSTED = "certificate verify failed: self-signed certificate in certificate chain"


@pytest.fixture(scope="module")
def company_ca(tmp_path_factory: pytest.TempPathFactory) -> CompanyCa:
    return make_company_ca(tmp_path_factory.mktemp("company-ca"))


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy({SERVER_NAME: "127.0.0.1"}, (PROXY_USER, PROXY_PASSWORD)) as server:
        yield server


def proxy_url(proxy: Proxy) -> str:
    return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"


def assert_no_proxy_password(*texts: str) -> None:
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    for text in texts:
        assert PROXY_PASSWORD not in visible(text) and basic not in visible(text)


def test_runner_style_through_the_proxy_with_ca_bundle_in_the_workspace(
        image, company_ca, proxy, tmp_path):
    """GitHub: ``ca-bundle`` is a path in the checkout, HTTPS_PROXY comes from the step's
    ``env:``; the call reaches the fake only through the proxy, with its credentials."""
    job = GitHubJob(tmp_path)
    make_site(job.workspace)
    (job.workspace / "certs").mkdir()
    shutil.copy(company_ca.ca, job.workspace / "certs" / "company-ca.pem")
    server = FakeJd(USERNAME, SECRET).serve_tls(company_ca.server_context(), SERVER_NAME)
    with server:
        run = job.run(image, {"username": USERNAME, "secret-key": SECRET,
                              "api-endpoint": server.endpoint, "base-url": BASE,
                              "paths": "index.html\ncss/site.css", "timeout": "5",
                              "ca-bundle": "certs/company-ca.pem"},
                      step_env={"HTTPS_PROXY": proxy_url(proxy)})
        port = server.port

    assert run.code == 0, run.log
    assert server.refreshed() == {BASE, BASE + "index.html", BASE + "css/site.css"}
    assert {seen.target for seen in proxy.seen} == {f"{SERVER_NAME}:{port}"}
    assert all(seen.authorization for seen in proxy.seen)
    assert f"Calls go through the proxy http://***@127.0.0.1:{proxy.port} (HTTPS_PROXY)" \
        in run.log
    assert f"::add-mask::{PROXY_PASSWORD}" in run.stdout
    assert_no_proxy_password(run.log, run.summary, str(run.outputs), str(run.report))


def test_runner_style_without_the_ca_names_the_certificate_problem(
        image, company_ca, proxy, tmp_path):
    job = GitHubJob(tmp_path)
    make_site(job.workspace)
    server = FakeJd(USERNAME, SECRET).serve_tls(company_ca.server_context(), SERVER_NAME)
    with server:
        run = job.run(image, {"username": USERNAME, "secret-key": SECRET,
                              "api-endpoint": server.endpoint, "base-url": BASE,
                              "paths": "index.html", "timeout": "5"},
                      step_env={"HTTPS_PROXY": proxy_url(proxy)})

    assert run.code == 1, run.log
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert f"Cause: {UNTRUSTED} ({SERVER_NAME}); set ca-bundle if a proxy re-signs TLS" \
        in errors[-1], run.log
    assert server.calls == []
    assert_no_proxy_password(run.log)


@pytest.mark.parametrize("ca_variable", ["JDCDN_CA_BUNDLE", "SSL_CERT_FILE"])
def test_gitlab_style_openapi_through_https_proxy(image, company_ca, proxy, tmp_path,
                                                  ca_variable):
    """GitLab: CI/CD variables, the proxy in lower case as a runner's ``environment``
    often sets it, the CA file in the project folder."""
    site = make_site(tmp_path / "site")
    shutil.copy(company_ca.ca, site.path / "company-ca.pem")
    server = FakeOpenApi(ACCESS_KEY_ID, ACCESS_KEY_SECRET).serve_tls(
        company_ca.server_context(), SERVER_NAME)
    with server:
        run = gitlab_job(image, site.path, {
            "JDCDN_ACCESS_KEY_ID": ACCESS_KEY_ID, "JDCDN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
            "JDCDN_API_ENDPOINT": server.endpoint, "JDCDN_BASE_URL": BASE,
            "JDCDN_PATHS": "index.html", "JDCDN_TIMEOUT": "5",
            ca_variable: "company-ca.pem", "https_proxy": proxy_url(proxy),
            "no_proxy": "localhost,127.0.0.1"})

    assert run.code == 0, run.log
    assert server.refreshed() == {BASE, BASE + "index.html"}
    assert proxy.seen and all(seen.status == 200 for seen in proxy.seen)
    assert run.dotenv["JDCDN_TASK_ID"] == server.task_ids()[0]
    assert_no_proxy_password(run.log, str(run.report))


def test_gitlab_style_names_what_failed(image, tmp_path):
    """A name that does not resolve, a closed port, a missing CA file: each named."""
    site = make_site(tmp_path / "site")
    common = {"JDCDN_USERNAME": USERNAME, "JDCDN_SECRET_KEY": SECRET,
              "JDCDN_BASE_URL": BASE, "JDCDN_PATHS": "index.html",
              "JDCDN_MAX_ATTEMPTS": "1"}
    with FakeJd(USERNAME, SECRET) as closed:
        port = closed.port
    name = gitlab_job(image, site.path, common | {
        "JDCDN_API_ENDPOINT": "https://jd-api.invalid"}, script="jdcdn-refresh; echo exit=$?")
    refused = gitlab_job(image, site.path, common | {
        "JDCDN_API_ENDPOINT": f"http://127.0.0.1:{port}"}, script="jdcdn-refresh; echo exit=$?")
    missing = gitlab_job(image, site.path, common | {
        "JDCDN_API_ENDPOINT": f"http://127.0.0.1:{port}", "REQUESTS_CA_BUNDLE": "/etc/corp.pem"},
        script="jdcdn-refresh; echo exit=$?")

    assert "exit=1" in name.stdout and \
        "Cause: the name jd-api.invalid does not resolve" in name.stderr, name.log
    assert "exit=1" in refused.stdout and \
        f"Cause: 127.0.0.1:{port} refused the connection" in refused.stderr, refused.log
    assert "exit=2" in missing.stdout, missing.log
    assert "REQUESTS_CA_BUNDLE: '/etc/corp.pem' does not exist" in missing.stderr
    assert "Traceback" not in name.log + refused.log + missing.log

