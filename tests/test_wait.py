"""Waiting for tasks: polls against the fake server, time from an injected clock.

The fake clock moves only when the code sleeps, so minutes of waiting take milliseconds
and every bound is exact. End-to-end runs use real time with intervals of 0.05 s.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pytest

from jdcdn_action.api.legacy import LegacyApi, query_extractor
from jdcdn_action.batches import Batch
from jdcdn_action.console import Console
from jdcdn_action.results import BatchResult
from jdcdn_action.waiting import Deadline, wait_for_tasks
from tests.fake_jd import Fault
from tests.helpers import SECRET, USERNAME, FakeClock

CN = dt.timezone(dt.timedelta(hours=8))


class TimedLog(io.StringIO):
    """The console's stream; remembers the fake time of every line."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.lines.append((self.clock.now, line))
        return super().write(text)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waiter(fake_jd, clock):
    """Submit ``urls`` (one refresh call each) to the fake server, then wait for them."""

    def wait(urls: list[str], timeout: float, interval: float, *, max_attempts: int = 3,
             backoff: float = 0.01, heartbeat: float = 60.0, kind: str = "refresh",
             before_wait=lambda: None):
        deadline = Deadline(clock, clock.sleep)
        api = LegacyApi(fake_jd.endpoint, USERNAME, SECRET, CN, timeout=5,
                    max_attempts=max_attempts, backoff=backoff, sleep=deadline.sleep)
        log = TimedLog(clock)
        console = Console(out=log, err=log)
        try:
            submitted = []
            for n, url in enumerate(urls, 1):
                path, body = (("/api/prefetch", {"publish_urls": [url]}) if kind == "prefetch"
                              else ("/api/refresh", {"type": "file", "instances": [url]}))
                outcome = api.call(path, body, lambda b: b.get("taskid"))
                assert outcome.ok, outcome.error
                submitted.append(BatchResult(Batch(n, "file", (url,)), "succeeded",
                                             task_id=outcome.value, attempts=1))
            before_wait()
            start = clock.now
            deadline.start(timeout)
            states = wait_for_tasks(api, submitted, kind, deadline, interval, console,
                                    concurrency=4, heartbeat=heartbeat)
        finally:
            api.close()
        return states, log, clock.now - start

    return wait


URLS = [f"https://www.example.com/p{n}.html" for n in range(3)]


def test_all_succeed_one_line_per_change(fake_jd, waiter):
    fake_jd.task_script["refresh"] = (2, 0)  # in progress for two polls, then done
    states, log, waited = waiter(URLS, timeout=600, interval=10)
    assert [s.state for s in states] == ["succeeded"] * 3
    assert [s.task_id for s in states] == [fake_jd.task_of(u).task_id for u in URLS]
    assert all(fake_jd.task_of(u).polls == 3 for u in URLS)  # no poll after success
    assert waited == 30  # three intervals: polls at 10, 20 and 30
    text = [line for _, line in log.lines]
    assert sum("succeeded after 30s" in line for line in text) == 3
    assert not any("Still waiting" in line for line in text)
    assert text[-1] == "Refresh tasks: 3 succeeded."


def test_one_fails_and_is_reported(fake_jd, waiter):
    fake_jd.task_script["refresh"] = (1, 0)
    fake_jd.fail_instances.add(URLS[1])
    states, log, waited = waiter(URLS, timeout=600, interval=5)
    assert [s.state for s in states] == ["succeeded", "failed", "succeeded"]
    assert waited == 10
    assert "warning: refresh task " in log.getvalue()
    assert "JD reports the task failed after 10s" in log.getvalue()
    assert log.lines[-1][1] == "Refresh tasks: 2 succeeded, 1 failed."


def test_timeout_leaves_tasks_pending(fake_jd, waiter):
    fake_jd.slow_instances[URLS[0]] = 10**6
    states, log, waited = waiter(URLS, timeout=35, interval=10)
    assert [s.state for s in states] == ["running", "succeeded", "succeeded"]
    assert waited == 35  # never past wait-timeout
    assert fake_jd.task_of(URLS[0]).polls == 4  # at 10, 20, 30 and a last look at 35
    assert fake_jd.task_of(URLS[1]).polls == 1
    text = log.getvalue()
    assert f"wait-timeout ran out after 35s with 1 refresh task still running: " \
           f"{states[0].task_id}" in text
    assert "pending-task-ids" in text


def test_zero_timeout_polls_once(fake_jd, waiter):
    fake_jd.task_script["refresh"] = (5, 0)
    states, _, waited = waiter(URLS[:1], timeout=0, interval=10)
    assert waited == 0 and states[0].state == "running"
    assert fake_jd.task_of(URLS[0]).polls == 1


@pytest.mark.parametrize("interval", [10, 45, 150])
def test_log_speaks_at_least_every_minute(fake_jd, waiter, interval):
    fake_jd.task_script["refresh"] = (1000, 0)
    states, log, waited = waiter(URLS[:2], timeout=400, interval=interval)
    assert waited == 400 and {s.state for s in states} == {"running"}
    times = [t for t, _ in log.lines]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 60
    beats = [line for _, line in log.lines if line.startswith("Still waiting for 2 of 2")]
    assert 5 <= len(beats) <= 7  # about one a minute, not one per poll
    assert fake_jd.task_of(URLS[0]).polls == len(range(interval, 400, interval)) + 1


def test_api_that_dies_ends_the_wait_early(fake_jd, waiter):
    fake_jd.task_script["refresh"] = (1000, 0)

    def die() -> None:  # the host goes away after the calls were accepted
        fake_jd.die_after = len(fake_jd.calls)

    states, log, waited = waiter(URLS[:2], timeout=600, interval=10, max_attempts=2,
                                 before_wait=die)
    assert [s.state for s in states] == ["unknown", "unknown"]
    where = f"no answer to the status query: 127.0.0.1:{fake_jd.port} "
    assert all(s.detail.startswith(where + "reset the connection")
               or s.detail.startswith(where + "refused the connection")
               for s in states), states
    assert waited < 11  # one round of polls, then no more
    assert log.lines[-1][1] == "Refresh tasks: 2 unknown."


def test_unanswered_polls_make_tasks_unknown_not_succeeded(fake_jd, waiter):
    fake_jd.task_script["refresh"] = (1000, 0)
    fake_jd.script("/api/refreshQuery", *[Fault("http", 503)] * 4)
    states, log, waited = waiter(URLS[:2], timeout=600, interval=10, max_attempts=2)
    assert [s.state for s in states] == ["unknown", "unknown"]
    assert all("HTTP 503" in s.detail for s in states)
    assert waited < 11  # one round, not ten minutes of polling a silent API
    assert len(fake_jd.requests("/api/refreshQuery")) == 4
    assert log.getvalue().count("state unknown") == 2
    assert "reported as pending" in log.getvalue()


def test_odd_answer_is_asked_again(fake_jd, waiter):
    odd = '{"status": 0, "data": {"status": 7}}'
    fake_jd.script("/api/refreshQuery", Fault("http", 200, body=odd),
                   Fault("http", 200, body='{"status": 0, "data": "ok"}'))
    states, _, _ = waiter(URLS[:1], timeout=600, interval=10)
    assert states[0].state == "succeeded"
    assert len(fake_jd.requests("/api/refreshQuery")) == 3


def test_permanent_query_error_is_unknown(fake_jd, waiter):
    fake_jd.script("/api/refreshQuery", Fault("jd", status=11))
    states, log, _ = waiter(URLS[:1], timeout=600, interval=10)
    assert "state unknown" in log.getvalue()
    assert states[0].state == "unknown" and "JD status 11" in states[0].detail


def test_retries_never_outlast_the_timeout(fake_jd, waiter, clock):
    # Back-off of 20-40 s would cross the 25 s deadline: the poll gives up, time is up.
    fake_jd.script("/api/refreshQuery", Fault("http", 500))
    states, log, waited = waiter(URLS[:1], timeout=25, interval=10, backoff=40)
    assert states[0].state == "running" and "wait-timeout" in states[0].detail
    assert "still running" in log.getvalue()
    assert waited <= 25
    assert len(fake_jd.requests("/api/refreshQuery")) == 1


def test_prefetch_tasks_use_prefetch_query(fake_jd, waiter):
    fake_jd.task_script["prefetch"] = (1, 0)
    states, log, _ = waiter(URLS[:2], timeout=60, interval=1, kind="prefetch")
    assert [(s.kind, s.state) for s in states] == [("prefetch", "succeeded")] * 2
    assert len(fake_jd.requests("/api/prefetchQuery")) == 4
    assert not fake_jd.requests("/api/refreshQuery")
    assert "prefetch task" in log.getvalue()


def test_nothing_to_wait_for(clock):
    deadline = Deadline(clock, clock.sleep)
    deadline.start(10)
    failed = BatchResult(Batch(1, "file", ("https://www.example.com/a",)), "failed")
    assert wait_for_tasks(None, [failed], "refresh", deadline, 1, Console()) == []  # type: ignore[arg-type]
    assert clock.sleeps == []


@pytest.mark.parametrize("body, value", [
    ({"status": 0, "data": {"taskid": "t1", "status": 0, "msg": "ok"}}, (0, "ok")),
    ({"status": 0, "data": {"taskid": "t1", "status": 1}}, (1, "")),
    ({"status": 0, "data": {"status": "2", "msg": "bad\nurl"}}, (2, "bad url")),
    ({"status": 0, "data": {"taskid": "t2", "status": 0}}, None),  # another task's answer
    ({"status": 0, "data": {"status": 3}}, None),
    ({"status": 0, "data": {"status": True}}, None),
    ({"status": 0, "data": {"status": None}}, None),
    ({"status": 0, "data": []}, None),
    ({"status": 0}, None),
])
def test_query_extractor(body, value):
    assert query_extractor("t1")(body) == value


def test_deadline_is_shared_and_started_once(clock):
    deadline = Deadline(clock, clock.sleep)
    assert deadline.remaining() == float("inf")
    deadline.sleep(100)  # no deadline yet: a plain sleep (sending, before any waiting)
    deadline.start(30)
    clock.sleep(10)
    deadline.start(30)  # the prefetch wait does not get a fresh budget
    assert deadline.remaining() == 20
    deadline.sleep_until(clock.now + 100)
    assert deadline.remaining() == 0
