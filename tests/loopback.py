"""What the fake JD servers share: a threaded HTTP server on 127.0.0.1 and scripted faults.

A subclass names its request handler class in ``handler``; the handler finds the fake as
its ``fake`` attribute. ``script`` queues faults per path, each used by one request.

Stopping is immediate: ``serve_forever`` would wait out its poll interval every time (a
few hundred servers per run add up to seconds), so the accept loop here sleeps on the
listener and a wake-up socket, and stopping ends every connection and the threads that
served them. A handler waits with ``fake.pause``, which stopping cuts short.

``serve_tls`` (before ``with``) makes it an HTTPS server under a host name of its
certificate (``tests/tls.py``).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
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


# How long a handler may take to notice that its fake stopped (it normally takes
# milliseconds: its connection is shut and its pause cut short).
STOP_SECONDS = 10.0


class _Server(ThreadingHTTPServer):
    """A threaded HTTP server that knows its connections and threads, so it can end them."""

    daemon_threads = True
    block_on_close = False  # stop() ends and joins the threads itself

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]
                 ) -> None:
        super().__init__(address, handler)
        self.guard = threading.Lock()
        self.open: set[socket.socket] = set()
        self.workers: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.wake_r, self.wake_w = socket.socketpair()

    def serve(self) -> None:
        """Accept until woken: no poll interval, so stopping never waits for one."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self.wake_r, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self.wake_r in ready:
                    return
                try:
                    request, address = self.get_request()
                except OSError:  # the listener was closed (a fake host that died)
                    if self.socket.fileno() == -1:
                        with contextlib.suppress(KeyError, ValueError, OSError):
                            selector.unregister(self.socket)
                    continue
                self.process_request(request, address)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True)
        with self.guard:
            self.workers = [worker for worker in self.workers if worker.is_alive()]
            self.workers.append(thread)
            self.open.add(request)
        thread.start()

    def close_request(self, request: Any) -> None:
        with self.guard:  # not while stop() shuts it: its fd could be another's by then
            self.open.discard(request)
            super().close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection cut by stop() is no error, nor a client that refused the
        certificate and ended its handshake."""
        import sys

        if self.stopping.is_set() or isinstance(sys.exc_info()[1], (ssl.SSLError,
                                                                     ConnectionError)):
            return
        super().handle_error(request, client_address)

    def stop(self, thread: threading.Thread) -> None:
        """Stop accepting (``thread`` runs ``serve``), end every connection and wait for
        the threads serving them; a thread that outlives that is an error of the fake."""
        self.stopping.set()
        self.wake_w.send(b"x")
        thread.join()  # no more connections or workers from here on
        self.server_close()
        with self.guard:
            workers = list(self.workers)
            for connection in self.open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + STOP_SECONDS
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self.wake_r.close()
        self.wake_w.close()
        stuck = [worker.name for worker in workers if worker.is_alive()]
        assert not stuck, f"{stuck} still serving {STOP_SECONDS:g} s after the fake stopped"


class LoopbackServer:
    handler: ClassVar[type[BaseHTTPRequestHandler]]
    address = "127.0.0.1"  # where it listens

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: dict[str, deque[Any]] = {}
        self.server: _Server | None = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.tls: ssl.SSLContext | None = None
        self.host = self.address  # the host name of ``endpoint``

    def serve_tls(self, context: ssl.SSLContext, host: str = "") -> Self:
        """Answer HTTPS with ``context``'s certificate; ``endpoint`` names ``host``."""
        self.tls = context
        self.host = host or self.address
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

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` in a handler; False (at once) when the fake is stopping."""
        return not self.stopping.wait(seconds)

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        handler = type("Handler", (self.handler,), {"fake": self})
        self.server = _Server((self.address, 0), handler)
        if self.tls:  # the handshake happens in each request's thread, on its first read
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self.stopping = self.server.stopping
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        server, thread = self.server, self.thread
        if server and thread:
            try:
                server.stop(thread)
            finally:
                self.server = self.thread = None

    @property
    def port(self) -> int:
        assert self.server
        return self.server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"
