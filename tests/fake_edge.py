"""A fake CDN edge on 127.0.0.1: serves a site folder, and can keep serving old copies.

``FakeEdge(site)`` serves the files under ``site`` as a web server would (``/docs/`` is
``docs/index.html``, a missing file is 404), with the cache headers of a CDN (``Age``,
``X-Cache``, ``Via``, ``ETag``, ``Last-Modified``, ``Cache-Status``). Per URL path
(percent-encoded, as requested) it can be scripted to:

- ``stale(path, old, times=K)``: answer the old content for the first K requests, then the
  file; ``times=None``: for ever;
- ``answer(path, code)``: answer that status (a 404 for a file that still exists);
- ``redirect(path, location, code=301)``: point elsewhere;
- ``trickle(path, every)``: send the file one byte every ``every`` seconds.

``gzip=True`` sends every body gzip-encoded when the client accepts it. Every request's
headers are kept in ``seen`` (with the time it came, monotonic), so a test can prove that
no credential ever reached the edge and when the fetches started; ``on_request`` hears of
each request as it comes.
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.loopback import LoopbackHandler, LoopbackServer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Script:
    old: bytes | None = None
    times: int | None = None  # old content for this many requests; None: for ever
    code: int = 0
    location: str = ""
    every: float = 0.0  # trickle: seconds between bytes
    served: int = field(default=0)


class FakeEdge(LoopbackServer):
    def __init__(self, site: Path, *, latency: float = 0.0, gzip: bool = False) -> None:
        super().__init__()
        self.site = site
        self.latency = latency
        self.gzip = gzip
        self.scripts: dict[str, Script] = {}
        self.seen: list[Seen] = []
        self.on_request: Callable[[Seen], None] | None = None  # called as each comes

    # -- scripting -----------------------------------------------------------------------
    def stale(self, path: str, old: bytes, times: int | None = None) -> None:
        with self.lock:
            self.scripts[path] = Script(old=old, times=times)

    def answer(self, path: str, code: int) -> None:
        with self.lock:
            self.scripts[path] = Script(code=code)

    def redirect(self, path: str, location: str, code: int = 301) -> None:
        with self.lock:
            self.scripts[path] = Script(code=code, location=location)

    def trickle(self, path: str, every: float) -> None:
        with self.lock:
            self.scripts[path] = Script(every=every)

    # -- what happened -------------------------------------------------------------------
    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if path is None or s.path == path]

    @property
    def base_url(self) -> str:
        return self.endpoint + "/"

    # -- serving -------------------------------------------------------------------------
    def serve(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) for a GET of ``path``."""
        with self.lock:
            script = self.scripts.get(path)
            if script is not None:
                script.served += 1
                if script.location:
                    return script.code, b"", {"Location": script.location}
                if script.code:
                    return script.code, b"not here\n", {}
                if script.old is not None and (script.times is None
                                               or script.served <= script.times):
                    return 200, script.old, {"X-Cache": "HIT from fake-edge", "Age": "3600",
                                             "Cache-Status": "fake-edge; hit"}
        file = self.site / unquote(path).lstrip("/")
        if path.endswith("/"):
            file = file / "index.html"
        if not file.is_file():
            return 404, b"not found\n", {"X-Cache": "MISS from fake-edge"}
        return 200, file.read_bytes(), {"X-Cache": "MISS from fake-edge", "Age": "0",
                                        "Cache-Status": "fake-edge; fwd=miss"}


class _Handler(LoopbackHandler):
    fake: FakeEdge

    def do_GET(self) -> None:
        fake = self.fake
        seen = Seen(self.path, dict(self.headers.items()), time.monotonic())
        with fake.lock:
            fake.seen.append(seen)
        if fake.on_request is not None:
            fake.on_request(seen)
        if fake.latency:
            fake.pause(fake.latency)
        status, body, headers = fake.serve(self.path)
        script = fake.scripts.get(self.path)
        seen.status = status
        # A cookie, as some CDNs set: a client that kept it would send it back.
        headers = {"Via": "1.1 fake-edge", "Content-Type": "application/octet-stream",
                   "Set-Cookie": "edge-session=s3ss10n; Path=/", **headers}
        if status == 200:
            digest = hashlib.sha256(body).hexdigest()
            headers |= {"ETag": f'"{digest[:16]}"',
                        "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
            if fake.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip_module.compress(body)
                headers["Content-Encoding"] = "gzip"
        self._raw(status, body, headers, script.every if script else 0.0)

    def _raw(self, code: int, body: bytes, headers: dict[str, Any], every: float = 0.0
             ) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not every:
            self.wfile.write(body)
            return
        for byte in body:  # until the client gives up or the fake stops
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            if not self.fake.pause(every):
                return


FakeEdge.handler = _Handler
