"""Sockets and connection pools that keep one request's deadline.

``timeout`` bounds a whole request, connect to last byte, on the caller's own thread:
``keep`` sets the thread's deadline, and every socket of the session's pools sets its
timeout to the time left before each read and write (``BoundedSocket``), so a server
trickling one byte at a time, in the headers or the body, meets the deadline at its next
byte, and the failed request closes its connection then. Nothing is left running: no
thread, no socket. (Two things are outside it: a name lookup, one blocking call of the
system resolver, runs to the resolver's own timeout; and where a name has several
addresses, urllib3 gives each connection attempt the time left when connecting began.)

Kept apart from ``http`` (the session and the request), since it works a layer below
requests: on urllib3's connections and on the sockets themselves.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import urllib3

_deadline = threading.local()  # .at: time.monotonic() by which this thread's request ends


@contextlib.contextmanager
def keep(timeout: float) -> Iterator[None]:
    """Within the block, this thread's requests end ``timeout`` seconds from now."""
    outer, _deadline.at = getattr(_deadline, "at", None), time.monotonic() + timeout
    try:
        yield
    finally:
        _deadline.at = outer


def ends_at() -> float:
    """The ``time.monotonic()`` by which this thread's request ends (inf: none kept)."""
    return getattr(_deadline, "at", None) or float("inf")


def _arm(sock: socket.socket) -> None:
    at = getattr(_deadline, "at", None)
    if at is None:
        return
    left = at - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's time is up")
    sock.settimeout(left)


def _bounded(base: type[socket.socket], names: tuple[str, ...]) -> Any:
    """``base`` whose methods ``names`` first give the socket only the time left."""

    def arming(name: str) -> Any:
        inner = getattr(base, name)

        def method(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            _arm(self)
            return inner(self, *args, **kwargs)

        return method

    return type(f"Bounded{base.__name__}", (base,), {name: arming(name) for name in names})


# Every read and write of a TCP socket; of a TLS one, each record and the handshake (the
# TLS context's ``sslsocket_class``).
BoundedSocket = _bounded(socket.socket, ("recv", "recv_into", "send", "sendall"))
BoundedTlsSocket = _bounded(ssl.SSLSocket, ("do_handshake", "read", "recv_into", "write",
                                            "send"))


def _adopt(sock: socket.socket) -> socket.socket:
    """The same connected socket as a ``BoundedSocket``."""
    bounded = BoundedSocket(sock.family, sock.type, sock.proto, fileno=sock.fileno())
    bounded.settimeout(sock.gettimeout())
    sock.detach()  # the descriptor now belongs to ``bounded`` alone
    return bounded


def _connect_within(connection: Any) -> None:
    """Connect with the time left (a pooled connection object connects again later)."""
    at = getattr(_deadline, "at", None)
    if at is not None:
        connection.timeout = max(at - time.monotonic(), 0.001)


class _Connection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        _connect_within(self)
        return _adopt(super()._new_conn())


class _TlsConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:  # the TCP part, before any tunnel and TLS
        _connect_within(self)
        return _adopt(super()._new_conn())


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


POOLS = {"http": _Pool, "https": _TlsPool}  # urllib3's pool_classes_by_scheme
