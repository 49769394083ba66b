"""The fake servers' lifecycle: stopping one leaves no connection or thread behind.

Each test starts and stops a few hundred of them, so stopping has to end what is still
running (an idle keep-alive connection, a handler inside a scripted pause) instead of
leaving it to finish on its own.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from tests.fake_jd import FakeJd, Fault


def test_stop_ends_idle_and_busy_connections_and_their_threads():
    before = set(threading.enumerate())
    jd = FakeJd().__enter__()
    idle = socket.create_connection(("127.0.0.1", jd.port), timeout=60)  # keep-alive, silent
    jd.script("/api/refresh", Fault("sleep", seconds=600))
    answered: list[object] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", jd.port, timeout=60)
        try:
            connection.request("POST", "/api/refresh", body=b"{}",
                               headers={"Content-Type": "application/json"})
            answered.append(connection.getresponse().status)
        except OSError as error:  # the fake went away mid-request, as a real host might
            answered.append(error)
        finally:
            connection.close()

    caller = threading.Thread(target=client)
    caller.start()
    deadline = time.monotonic() + 20
    while not jd.requests() and time.monotonic() < deadline:  # the handler is pausing
        time.sleep(0.01)
    assert jd.requests(), "the request never reached the fake"
    try:
        jd.stop()  # asserts that every thread serving a connection has ended
        caller.join(timeout=60)
        assert not caller.is_alive() and len(answered) == 1
        assert idle.recv(1) == b""  # the silent connection was closed by the fake
    finally:
        idle.close()
    assert set(threading.enumerate()) <= before  # the accept loop ended too


def test_a_stopped_fake_accepts_nothing():
    with FakeJd() as jd:
        port = jd.port
    assert jd.server is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()


def test_stopping_twice_is_harmless():
    jd = FakeJd().__enter__()
    jd.stop()
    jd.stop()
    jd.__exit__(None, None, None)
