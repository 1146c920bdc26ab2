"""The shared HTTP session: a total deadline per request, however slowly a server trickles its answer."""

from __future__ import annotations

import time

import pytest
import requests

from hiljade.errors import SourceUnavailable
from hiljade.harvester.deadline import DeadlineExceeded
from hiljade.harvester.http import HttpSession, network_errors
from tests.support.http import LocalServer, TrickleHandler

DEADLINE = 1.5  # seconds for the whole answer
MARGIN = 2.5  # a request must fail before DEADLINE + MARGIN; the stand-in trickles for 12 s


def _trickler(mode: str) -> LocalServer:
    return LocalServer(TrickleHandler, trickle=mode, interval=0.3)


@pytest.mark.parametrize("mode", ["headers", "body", "body_no_length"])
def test_a_trickled_answer_fails_at_the_total_deadline(mode: str) -> None:
    with _trickler(mode) as server, HttpSession(timeout=1.0, total_timeout=DEADLINE) as session:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"no complete answer from 127\.0\.0\.1 within 1\.5 s"):
            session.get(server.url + "/slow")
        assert time.monotonic() - started < DEADLINE + MARGIN
        assert session.last_failure is not None
        assert session.last_failure.text == "no complete answer from 127.0.0.1 within 1.5 s"


def test_a_streamed_body_keeps_its_deadline_while_it_is_read() -> None:
    with _trickler("body") as server, HttpSession(timeout=1.0, total_timeout=DEADLINE) as session:
        started = time.monotonic()
        response = session.get(server.url + "/slow", stream=True)
        with pytest.raises(requests.RequestException):
            for _chunk in response.iter_content(1):
                pass
        assert time.monotonic() - started < DEADLINE + MARGIN


def test_network_errors_says_which_host_did_not_answer_in_time() -> None:
    with (_trickler("headers") as server, HttpSession(total_timeout=DEADLINE) as session,
          pytest.raises(SourceUnavailable) as caught, network_errors("timed out", "cannot fetch")):
        session.get(server.url + "/slow")
    assert str(caught.value) == "cannot fetch: no complete answer from 127.0.0.1 within 1.5 s"
    assert caught.value.kind == "timeout"


def test_a_quick_answer_is_untouched_and_the_connection_reused() -> None:
    with LocalServer(TrickleHandler, trickle="quick") as server, \
            HttpSession(total_timeout=DEADLINE) as session:
        for _ in range(3):
            assert session.get(server.url + "/fast").json() == []
        time.sleep(DEADLINE + 0.2)  # the deadlines of the answered requests pass harmlessly
        assert session.get(server.url + "/fast").json() == []
