"""What really happened to a request that got no answer, in words a user can act on.

requests wraps every failure a few times over ("Max retries exceeded ... Caused by
ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 407 ...'))"),
so the useful fact is somewhere down the exception chain. ``describe`` walks it (``args``,
``reason``, ``original_error``, ``__cause__``, ``__context__``) and names the host and
what went wrong with it: the certificate problem, the name that does not resolve, the
``host:port`` that refused, the proxy and its answer, the time that ran out.

Permanent (retrying cannot help): a certificate that fails verification (the same chain
comes back every time; a gateway that re-signs TLS needs ``ca-bundle``), a proxy that
wants credentials (407) or refuses the host (other 4xx). A 407 also stops every later
call: each would go through the same proxy and get the same answer. Everything else is
transient, as the contract says of connection errors: names can resolve again, hosts come
back.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import IncompleteRead, RemoteDisconnected
from urllib.parse import urlsplit

import requests
import urllib3

from jdcdn_action.console import clean_text
from jdcdn_action.network import Proxy

TUNNEL_RE = re.compile(r"Tunnel connection failed: (\d{3})\s*(.*)")  # http.client's words
# OpenSSL's codes for a chain that ends in a CA the client does not trust: what a
# TLS-inspecting gateway's certificate looks like.
UNTRUSTED_CHAIN = {18, 19, 20, 21}
CA_HINT = "set ca-bundle if a proxy re-signs TLS"
NETWORK_HINT = "check api-endpoint and the network"
PROXY_ERRORS = (requests.exceptions.ProxyError, urllib3.exceptions.ProxyError)
TIMEOUTS = (TimeoutError, requests.Timeout, urllib3.exceptions.TimeoutError)


@dataclass(frozen=True)
class Cause:
    text: str
    permanent: bool = False
    stops_all: bool = False  # no later call can do better (the proxy wants credentials)


def describe(error: BaseException, url: str, proxy: Proxy | None, timeout: float,
             hint: str = NETWORK_HINT) -> Cause:
    """Why a request to ``url`` (through ``proxy``, if any) failed with ``error``; ``hint``
    says what to check (the API's endpoint, or for ``verify`` the site's base URLs)."""
    chain = list(walk(error))
    host = clean_text(urlsplit(url).hostname or "?", 100)
    target = _target(url)
    tunnel = next((m for e in chain if type(e) is OSError
                   for m in [TUNNEL_RE.fullmatch(str(e))] if m), None)
    if proxy is not None and tunnel:
        return proxy_refused(proxy, url, int(tunnel.group(1)), tunnel.group(2), hint)
    # The proxy itself failed (no connection to it), or the request through it did.
    failing = proxy if _first(chain, PROXY_ERRORS) is not None else None
    name = failing.host if failing else host
    whom = f"the proxy {failing.where} ({failing.variable})" if failing else target
    via = f" through the proxy {proxy.where}" if proxy and not failing else ""

    verify = _first(chain, ssl.SSLCertVerificationError)
    if verify is not None:
        message = clean_text(getattr(verify, "verify_message", "") or str(verify), 120)
        code = getattr(verify, "verify_code", 0)
        fix = CA_HINT if code in UNTRUSTED_CHAIN else hint
        return Cause(f"certificate verify failed: {message} ({name}); {fix}", True)
    resolve = _first(chain, socket.gaierror)
    if resolve is not None:
        why = clean_text(resolve.strerror or str(resolve), 80)
        if failing:
            return Cause(f"the proxy's name {name} ({failing.variable}) does not resolve "
                         f"({why}); check {failing.variable}")
        return Cause(f"the name {name} does not resolve ({why}); {hint}")
    if _first(chain, ConnectionRefusedError) is not None or _errno(chain, errno.ECONNREFUSED):
        fix = f"check {failing.variable}" if failing else hint
        return Cause(f"{whom} refused the connection; {fix}")
    if _is_timeout(chain):
        return Cause(f"no answer from {whom}{via} within {timeout:g} s (timeout); "
                     f"{hint}, or raise timeout")
    unreachable = _errno(chain, errno.ENETUNREACH, errno.EHOSTUNREACH)
    if unreachable is not None:
        return Cause(f"{whom} cannot be reached ({clean_text(unreachable, 60)}); "
                     f"{hint}")
    if _first(chain, ConnectionResetError) is not None:
        return Cause(f"{whom}{via} reset the connection; {hint}")
    if _first(chain, (RemoteDisconnected, IncompleteRead)) is not None or any(
            "Connection aborted" in str(e) or "IncompleteRead" in str(e) for e in chain):
        return Cause(f"{whom}{via} closed the connection before a whole answer; "
                     f"{hint}")
    tls = _first(chain, ssl.SSLError)
    if tls is not None:
        reason = clean_text(str(getattr(tls, "reason", None) or tls), 80).lower()
        return Cause(f"TLS with {whom}{via} failed ({reason.replace('_', ' ')}); "
                     f"{hint}")
    last = chain[-1] if chain else error
    return Cause(f"the request to {target}{via} failed ({type(last).__name__}: "
                 f"{clean_text(str(last), 120)}); {hint}")


def proxy_refused(proxy: Proxy, url: str, code: int, reason: str,
                  hint: str = NETWORK_HINT) -> Cause:
    """A proxy's answer other than 200 to a tunnel, or a 407 to a plain-HTTP request."""
    target = _target(url)
    said = f"{code} {clean_text(reason, 60)}".strip()
    who = f"the proxy {proxy.where} ({proxy.variable})"
    if code == 407:
        return Cause(f"{who} answered {said}: the proxy wants credentials; give them in "
                     f"{proxy.variable} as http://user:password@host:port", True, True)
    if 400 <= code < 500:
        return Cause(f"{who} refused to connect to {target} ({said}); ask for the host to "
                     "be allowed, or set NO_PROXY", True)
    return Cause(f"{who} could not reach {target} ({said}); {hint}")


def _target(url: str) -> str:
    """``host:port`` of ``url``, the port the default one where none is written."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{clean_text(parts.hostname or '?', 100)}:{port}"


def walk(error: BaseException) -> Iterator[BaseException]:
    """Every exception in ``error``'s story, each once, outermost first."""
    seen: set[int] = set()
    queue = [error]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [getattr(current, "reason", None), getattr(current, "original_error", None),
                  *getattr(current, "args", ()), current.__cause__, current.__context__]
        queue += [e for e in linked if isinstance(e, BaseException)]


def _first(chain: list[BaseException],
           kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    return next((e for e in chain if isinstance(e, kind)), None)


def _errno(chain: list[BaseException], *codes: int) -> str | None:
    """The text of an ``OSError`` with one of ``codes``, or of a message that names it."""
    for error in chain:
        if isinstance(error, OSError) and error.errno in codes:
            return error.strerror or str(error)
    return None


def _is_timeout(chain: list[BaseException]) -> bool:
    """socket timeouts, and requests' and urllib3's wrappers of them."""
    return _first(chain, TIMEOUTS) is not None
