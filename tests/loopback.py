"""What the fake JD servers share: a threaded HTTP server on 127.0.0.1 and scripted faults.

A subclass names its request handler class in ``handler``; the handler finds the fake as
its ``fake`` attribute. ``script`` queues faults per path, each used by one request.
``serve_tls`` (before ``with``) makes it an HTTPS server under a host name of its
certificate (``tests/tls.py``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LoopbackHandler(BaseHTTPRequestHandler):
    """What both fakes' handlers share: a quiet log, JSON answers, a TCP reset."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every answer, which real servers do not.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), no answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        self.connection.close()

    def _send(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(code)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)


class LoopbackServer:
    handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: dict[str, deque[Any]] = {}
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.tls: ssl.SSLContext | None = None
        self.host = "127.0.0.1"  # the host name of ``endpoint``

    def serve_tls(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> Self:
        """Answer HTTPS with ``context``'s certificate; ``endpoint`` names ``host``."""
        self.tls = context
        self.host = host
        return self

    # -- scripting -----------------------------------------------------------------------
    def script(self, path: str, *faults: Any) -> None:
        """Queue faults for ``path``; each is used by one request."""
        with self.lock:
            self.faults.setdefault(path, deque()).extend(faults)

    def _next_fault(self, path: str) -> Any:
        with self.lock:
            queue = self.faults.get(path)
            return queue.popleft() if queue else None

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        handler = type("Handler", (self.handler,), {"fake": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if self.tls:  # the handshake happens in each request's thread, on its first read
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server
        return self.server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that refuses the certificate ends its handshake: not worth a
        traceback in the test's output."""
        import sys

        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            super().handle_error(request, client_address)
