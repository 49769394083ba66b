"""One HTTP request within a deadline, on a session that goes the run's way out.

Every request of the run is made here: API calls and polls, and any later GET (the quota
read, ``verify``'s fetches), through one session per caller from ``new_session``.

**The way out.** ``trust_env`` is off and the session asks the run's ``Network`` instead:
the proxy from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` as the run was given them, so
nothing else from ``os.environ`` (a ``.netrc``, another CA variable) changes a request
unseen. TLS trusts certifi's CAs (requests' default) *plus* the run's CA files
(``ca-bundle``, ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``): one ``ssl.SSLContext``, loaded
once and shared by every connection, direct or through a proxy's tunnel. (A combined
bundle in a temporary file would be read again by every new connection, and stay on disk.)
Verification is never turned off.

**The deadline.** ``timeout`` bounds a whole request, connect to last byte: the session's
connection pools come from ``deadline``, whose sockets give each read and write only the
time left.

**Failures** are ``Transient`` (worth another attempt) or ``Permanent``, named by
``causes``; the exception from requests stays on the chain, so ``--debug`` shows it.
Redirects are never followed: a 307/308 would send a signed request to another host, and
a 301/302 would turn a POST into a GET whose answer is no refresh.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from jdcdn_action import __version__
from jdcdn_action.api import deadline
from jdcdn_action.api.causes import NETWORK_HINT, describe, proxy_refused
from jdcdn_action.console import clean_text
from jdcdn_action.network import CaFile, Network

CHUNK = 64 * 1024


class Transient(Exception):
    """This attempt failed in a way that may pass; ``retry_after`` is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None, cause: str = "",
                 request_id: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.cause = cause or message
        self.request_id = request_id


class Permanent(Exception):
    """This call cannot succeed. ``stop_all``: the credentials or permissions are wrong,
    so no later call is sent. ``second_chance``: a reason to try once more differently
    (the legacy API's signature date), said in the log."""

    def __init__(self, message: str, *, cause: str = "", request_id: str = "",
                 stop_all: bool = False, second_chance: str = "") -> None:
        super().__init__(message)
        self.cause = cause or message
        self.request_id = request_id
        self.stop_all = stop_all
        self.second_chance = second_chance


# -- the session -----------------------------------------------------------------------------
def new_session(network: Network, pool_size: int) -> requests.Session:
    """A pooled session for ``network``: its proxies, its CAs, bounded sockets."""
    session = _Session(network)
    adapter = _Adapter(tls_context(network.ca_files), pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"jdcdn-action/{__version__}"
    return session


def tls_context(ca_files: tuple[CaFile, ...]) -> ssl.SSLContext:
    """urllib3's TLS defaults, certifi's CAs and the extra files (checked by ``network``
    when the settings loaded), with sockets that keep the deadline.

    Loading certifi's bundle takes tens of milliseconds, so sessions with the same CA files
    (the API's and ``verify``'s) share one context: a file is known by its path, size and
    modification time, so a changed file is loaded again."""
    import os

    stamps = []
    for ca_file in ca_files:
        try:
            info = os.stat(ca_file.path)
            stamps.append((ca_file.path, info.st_size, info.st_mtime_ns))
        except OSError:  # loading it will say what is wrong
            stamps.append((ca_file.path, -1, -1))
    return _tls_context(tuple(stamps))


@functools.lru_cache(maxsize=8)
def _tls_context(ca_files: tuple[tuple[str, int, int], ...]) -> ssl.SSLContext:
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.load_verify_locations(cafile=requests.certs.where())
    for path, _size, _mtime in ca_files:
        context.load_verify_locations(cafile=path)
    context.sslsocket_class = deadline.BoundedTlsSocket
    return context


class _Session(requests.Session):
    def __init__(self, network: Network) -> None:
        super().__init__()
        self.trust_env = False
        self.network = network

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> dict[str, Any]:
        """What requests would read from ``os.environ``, from the run's ``Network``."""
        proxy = self.network.proxy_for(str(url))
        scheme = urlsplit(str(url)).scheme.lower()
        return {"proxies": {scheme: proxy.url} if proxy else {}, "stream": stream,
                "verify": True, "cert": None}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter with one TLS context for every pool (the proxies' too) and
    connections whose sockets keep the deadline."""

    def __init__(self, context: ssl.SSLContext, pool_size: int) -> None:
        self._context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_size)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context,
                                 **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = deadline.POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, ssl_context=self._context,
                                            proxy_ssl_context=self._context, **proxy_kwargs)
        manager.pool_classes_by_scheme = deadline.POOLS
        return manager

    def close(self) -> None:
        """Close every pooled connection now: urllib3 2 drops its pools on ``clear()``
        and leaves their idle sockets to the garbage collector."""
        for manager in (self.poolmanager, *self.proxy_manager.values()):
            for key in manager.pools.keys():  # noqa: SIM118 -- a copy: no iterating it
                pool = manager.pools.get(key)
                if pool is not None:
                    pool.close()
        super().close()

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Always verify, against the context's CAs (requests would load its bundle into
        the shared context again for every new connection)."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


# -- one request -----------------------------------------------------------------------------
@contextlib.contextmanager
def exchange(session: requests.Session, method: str, url: str, *, data: bytes | None = None,
             headers: Mapping[str, str] | None = None, timeout: float,
             hint: str = NETWORK_HINT) -> Iterator[requests.Response]:
    """One request whose answer is read inside the ``with`` block (``read_body``), all
    within ``timeout`` seconds, never following a redirect (a 3xx is the answer).

    A failure with no answer raises ``Transient``/``Permanent`` naming the cause, ``hint``
    saying what to check; so does a proxy's 407. The connection is closed on the way out,
    or back in the pool when the whole answer was read.
    """
    network = getattr(session, "network", None) or Network()
    proxy = network.proxy_for(url)
    response = None
    try:
        with deadline.keep(timeout):
            response = session.request(method, url, data=data, headers=dict(headers or {}),
                                       timeout=(timeout, timeout), allow_redirects=False,
                                       stream=True)
            if response.status_code == 407 and proxy is not None:
                refused = proxy_refused(proxy, url, 407, response.reason or "", hint)
                raise Permanent(refused.text, stop_all=refused.stops_all)
            yield response
    except (requests.RequestException, urllib3.exceptions.HTTPError,
            http.client.HTTPException, OSError) as error:
        cause = describe(error, url, proxy, timeout, hint)
        if cause.permanent:
            raise Permanent(cause.text, stop_all=cause.stops_all) from error
        raise Transient(cause.text) from error
    finally:
        if response is not None:
            response.close()


def read_body(response: requests.Response, max_body: int | None = None,
              sink: Callable[[bytes], object] | None = None) -> bytes:
    """The body of ``exchange``'s answer, decoded as its ``Content-Encoding`` says, before
    the exchange's deadline. With ``sink``, each piece goes there instead (and b"" is
    returned), so a large body is never held whole. More than ``max_body`` bytes is
    ``Permanent``."""
    ends_at = deadline.ends_at()
    chunks, size = [], 0
    for chunk in response.raw.stream(CHUNK, decode_content=True):
        size += len(chunk)
        if max_body is not None and size > max_body:
            host = clean_text(urlsplit(response.url).hostname or "?", 100)
            raise Permanent(f"the answer from {host} is larger than {max_body} bytes")
        if sink is None:
            chunks.append(chunk)
        else:
            sink(chunk)
        if time.monotonic() >= ends_at:
            raise TimeoutError("the request's time is up")
    return b"".join(chunks)


def request_within(session: requests.Session, method: str, url: str, *,
                   data: bytes | None = None, headers: Mapping[str, str] | None = None,
                   timeout: float, max_body: int | None = None) -> requests.Response:
    """Send one API request and read its whole answer within ``timeout`` seconds.

    Returns the response with its body read (``content``, ``text``, ``json()`` as in
    requests); raises ``Transient``/``Permanent`` naming the cause. A redirect is
    ``Permanent``: the signed call goes to api-endpoint and nowhere else.
    """
    with exchange(session, method, url, data=data, headers=headers,
                  timeout=timeout) as response:
        code = response.status_code
        if 300 <= code < 400:
            raise Permanent(redirect_message(code, response.headers.get("Location", "")))
        response._content = read_body(response, max_body)  # what ``content`` would read
        response._content_consumed = True
        return response


def redirect_message(code: int, location: str) -> str:
    """Why a redirect failed the call, naming the host it pointed to."""
    try:
        host = urlsplit(location).hostname or ""
    except ValueError:
        host = ""
    where = f"to {clean_text(host, 100)}" if host else (
        "to another path" if location else "without a Location")
    return (f"HTTP {code}: the API redirected {where}; redirects are never followed, so the "
            "signed call goes to api-endpoint only: check api-endpoint")
