"""A small HTTP proxy on 127.0.0.1, as a company network has one: ``CONNECT`` tunnels for
HTTPS, absolute-form requests (``POST http://host/path``) for plain HTTP.

It resolves names through ``hosts`` first (``{"jd-api.test": "127.0.0.1"}``: a name that
resolves nowhere else, so a call that reaches the fake must have gone through the proxy),
then DNS; a name it cannot resolve or a host that refuses is a ``502``, as real proxies
answer. With ``credentials`` it wants ``Proxy-Authorization: Basic ...`` and answers
``407`` without them. Every request is recorded in ``seen``. Threads are bounded: each
tunnel ends when either side closes, after ``IDLE`` seconds without traffic, or when the
proxy stops.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

IDLE = 20.0  # seconds a tunnel may stay silent
HEAD_LIMIT = 65536


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # host:port for CONNECT, the absolute URL otherwise
    authorization: str | None  # the Proxy-Authorization header, as received
    status: int  # what the proxy answered (200 for a tunnel it opened)


class Proxy:
    """``with Proxy(hosts=..., credentials=("user", "pw")) as proxy:`` then
    ``proxy.url`` (``http://127.0.0.1:<port>``) or ``proxy.url_with("user", "pw")``."""

    def __init__(self, hosts: dict[str, str] | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.credentials = credentials
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server: socketserver.ThreadingTCPServer | None = None
        self.port = 0  # kept after the proxy stops, for messages that name it

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        with self.lock:
            return [seen.target for seen in self.seen]

    # -- one client connection -----------------------------------------------------------
    def _handle(self, client: socket.socket) -> None:
        client.settimeout(IDLE)
        with contextlib.suppress(OSError), client:
            head, rest = _read_head(client)
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = [*lines[0].split(" "), "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            authorization = headers.get("proxy-authorization")
            if self.credentials and authorization != _basic(*self.credentials):
                self._record(method, target, authorization, 407)
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b'Proxy-Authenticate: Basic realm="corp"\r\n'
                               b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._connect(host, int(port))
            else:
                parts = urlsplit(target)
                upstream = self._connect(parts.hostname or "", parts.port or 80)
            self._record(method, target, authorization, 200 if upstream else 502)
            if upstream is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                               b"Connection: close\r\n\r\n")
                return
            with upstream:
                if method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        upstream.sendall(rest)
                else:  # origin-form to the server, one request per connection
                    kept = [line for line in lines[1:] if line and not line.lower().startswith(
                        ("proxy-", "connection:"))]
                    path = parts.path or "/"
                    path += f"?{parts.query}" if parts.query else ""
                    upstream.sendall("\r\n".join([f"{method} {path} {version}", *kept,
                                                  "Connection: close", "", ""]).encode(
                                                      "latin-1") + rest)
                self._relay(client, upstream)

    def _record(self, method: str, target: str, authorization: str | None,
                status: int) -> None:
        with self.lock:
            self.seen.append(Seen(method, target, authorization, status))

    def _connect(self, host: str, port: int) -> socket.socket | None:
        address = self.hosts.get(host.strip("[]"), host.strip("[]"))
        try:
            upstream = socket.create_connection((address, port), timeout=5)
        except OSError:  # no such name, refused, unreachable: the proxy's 502
            return None
        upstream.settimeout(IDLE)
        return upstream

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        idle = 0.0
        while not self.stopping.is_set() and idle < IDLE:
            ready, _, _ = select.select(list(peers), [], [], 0.1)
            idle = idle + 0.1 if not ready else 0.0
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    """The request line and headers, and whatever came after them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > HEAD_LIMIT:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest
