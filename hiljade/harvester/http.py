"""The one HTTP session every adapter sends through: pacing, retries, ``Retry-After``, recording.

``HttpSession`` is a ``requests.Session`` (so Mastodon.py and tweepy can be handed it) that adds
a user agent and a default timeout, keeps requests ``min_interval`` apart, waits for a used-up
rate-limit window, remembers the last URL and answer, and counts what the sources report:
requests made, rate-limit waits and seconds waited. The retry loops of the sources ask it how
long to back off or to wait out a 429 (``backoff``, ``rate_limit_wait``, ``wait_rate_limit``);
statuses become exceptions through the one table in ``hiljade.errors``. Sleep and clock are seams.
Every request has a total deadline (``total_timeout``, headers and body; ``hiljade.harvester.deadline``)
besides the per-read ``timeout``: a server that trickles its answer fails with "no complete answer
from HOST within N s".

A request that got no answer at all is described in plain words (``network_failure``: "cannot
resolve mastodon.social: is this machine online?"); a host name that does not resolve is not worth
retrying (``NetworkFailure.unresolvable``). Every backoff is logged (INFO, logger
``hiljade.harvester.http``) with what failed and when the next try is: `hiljade run` logs it, and
`hiljade harvest` shows it on a terminal.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError

from hiljade.errors import RateLimited, SourceUnavailable, retry_after_seconds
from hiljade.harvester.deadline import DeadlineAdapter, DeadlineExceeded

# Reads a source's rate-limit headers: (requests left in the window, seconds until it resets).
LimitReader = Callable[[requests.Response], tuple[int | None, float | None]]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetworkFailure:
    """Why a request got no answer, in plain words; ``unresolvable``: the host name does not resolve
    (no network, or no such name), which no retry soon will change."""

    text: str
    unresolvable: bool = False


def network_failure(exc: BaseException, url: str) -> NetworkFailure:
    """What went wrong with a request to ``url`` that got no answer, in a sentence a person reads."""
    host = urlsplit(url).hostname or url or "the server"
    chain = _causes(exc)
    late = next((e for e in chain if isinstance(e, DeadlineExceeded)), None)
    if late is not None:
        return NetworkFailure(str(late))
    if any(isinstance(e, socket.gaierror | NameResolutionError) for e in chain):
        return NetworkFailure(f"cannot resolve {host}: is this machine online?", unresolvable=True)
    if any(isinstance(e, requests.ConnectTimeout) for e in chain):
        return NetworkFailure(f"cannot connect to {host}: no answer in time")
    if any(isinstance(e, requests.Timeout | TimeoutError) for e in chain):
        return NetworkFailure(f"{host} did not answer in time")
    if any(isinstance(e, ssl.SSLError | requests.exceptions.SSLError) for e in chain):
        return NetworkFailure(f"cannot make a secure (TLS) connection to {host}: is the certificate valid?")
    codes = {getattr(e, "errno", None) for e in chain}
    if errno.ECONNREFUSED in codes or any(isinstance(e, ConnectionRefusedError) for e in chain):
        return NetworkFailure(f"{host} refused the connection: is the server up, and the URL right?")
    if codes & {errno.ENETUNREACH, errno.EHOSTUNREACH}:
        return NetworkFailure(f"cannot reach {host}: no route to it; is this machine online?")
    if any(isinstance(e, ConnectionResetError | requests.exceptions.ChunkedEncodingError) for e in chain):
        return NetworkFailure(f"{host} closed the connection before answering in full")
    return NetworkFailure(f"cannot reach {host} ({type(chain[-1]).__name__})")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything that caused it (causes, contexts, wrapped reasons), outermost first."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 20:
        item = todo.pop(0)
        if item in found:
            continue
        found.append(item)
        linked = [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return found


@dataclass
class Counts:
    """What requests cost: how many were made, how many rate-limit waits, all seconds waited."""

    requests: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class Retries:
    """How often and how long to retry: the backoff doubles from ``backoff_seconds``; waits stay
    under ``max_wait``."""

    max_retries: int = 4
    backoff_seconds: float = 2.0
    max_wait: float = 15 * 60.0

    def backoff(self, failures: int, hint: float | None = None) -> float:
        """The pause after failure number ``failures`` (at least ``hint``, at most ``max_wait``)."""
        return min(max(self.backoff_seconds * 2 ** (failures - 1), hint or 0.0), self.max_wait)


class Pacer:
    """Keeps requests ``min_interval`` apart (end of one to start of the next) and counts every wait."""

    def __init__(
        self,
        min_interval: float = 0.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = min_interval
        self.sleep, self.clock = sleep, clock
        self.counts = Counts()
        self.last: float | None = None  # when the last request ended, on ``clock``

    def wait(self, seconds: float, *, rate_limit: bool = False) -> None:
        """Sleep ``seconds`` (nothing when not positive) and count it."""
        if seconds <= 0:
            return
        self.sleep(seconds)
        self.counts.waited_seconds += seconds
        if rate_limit:
            self.counts.rate_limit_waits += 1

    def pace(self) -> None:
        """Before a request: wait until ``min_interval`` has passed since the last one ended."""
        if self.last is not None:
            self.wait(self.min_interval - (self.clock() - self.last))

    def done(self) -> None:
        """After a request (answered or not): remember when it ended."""
        self.last = self.clock()


class HttpSession(requests.Session):
    """A paced, counting, retry-aware ``requests.Session`` (one per server or service); each request
    has ``timeout`` per read and ``total_timeout`` seconds in all (None: no total deadline)."""

    def __init__(
        self,
        *,
        user_agent: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        min_interval: float = 0.0,
        retries: Retries | None = None,
        max_redirects: int = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rewrite: tuple[str, str] | None = None,
        limits: LimitReader | None = None,
        total_timeout: float | None = None,
    ) -> None:
        super().__init__()
        for prefix in ("http://", "https://"):  # every request answered in full within total_timeout
            self.mount(prefix, DeadlineAdapter(total_timeout))
        if user_agent:
            self.headers["User-Agent"] = user_agent
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.retries = retries or Retries()
        self.pacer = Pacer(min_interval, sleep=sleep, clock=clock)
        self._rewrite = rewrite  # (prefix asked, prefix sent): e.g. tweepy's fixed host to a stand-in
        self._limits = limits
        self.total_requests = 0
        self.last_url = ""
        self.last_response: requests.Response | None = None
        self.last_failure: NetworkFailure | None = None  # why the last request got no answer, if it got none
        self.remaining: int | None = None  # requests left in the rate-limit window, when told
        self.reset_at: float | None = None  # when the window resets, on the pacer's clock

    @property
    def counts(self) -> Counts:
        """Requests, rate-limit waits and seconds waited since the last ``reset_counts``."""
        return self.pacer.counts

    def reset_counts(self) -> Counts:
        """Start counting afresh (for one page or one call); return the new counts."""
        self.pacer.counts = Counts()
        return self.pacer.counts

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send one request: paced, with the default timeout, counted, its URL and answer kept."""
        url = str(url)
        if self._rewrite and url.startswith(self._rewrite[0]):
            url = self._rewrite[1] + url[len(self._rewrite[0]):]
        if self.timeout is not None:
            kwargs.setdefault("timeout", self.timeout)
        self._before_request()
        prepared = requests.Request(str(method), url, params=kwargs.get("params")).prepare()
        self.last_url, self.last_response, self.last_failure = prepared.url or url, None, None
        response = None
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            self.last_failure = network_failure(exc, url)
            raise
        finally:
            self._after_request(response)
        self.last_response = response
        return response

    # -- rate-limit windows and waits ----------------------------------------------------------

    def window_wait(self, slack: float = 0.0) -> float | None:
        """Seconds until a used-up rate-limit window resets (plus ``slack``); None when not used up."""
        if self.remaining is None or self.remaining > 0 or self.reset_at is None:
            return None
        return self.reset_at - self.pacer.clock() + slack

    def wait_for_window(self, where: str, *, slack: float = 0.0) -> None:
        """Before a call: wait for a used-up window to reset; RateLimited when that is too long."""
        wait = self.window_wait(slack)
        if wait is None:
            return
        if wait > self.retries.max_wait:
            raise RateLimited(f"{where}: rate limit used up; it resets in {wait:.0f} s", retry_after=wait)
        self.remaining = None
        self.pacer.wait(wait, rate_limit=True)

    def retry_after(self) -> float | None:
        """Seconds the last answer asked us to wait (``Retry-After``), or None."""
        response = self.last_response
        return retry_after_seconds(response.headers) if response is not None else None

    def rate_limit_wait(self, attempt: int, *, slack: float = 0.0, fallback: float | None = None) -> float:
        """How long to wait after 429 number ``attempt``: ``Retry-After``, else until the window
        resets (plus ``slack``), else ``fallback``, else the backoff."""
        hint = self.retry_after()
        if hint is None and self.reset_at is not None:
            hint = self.reset_at - self.pacer.clock() + slack
        if hint is None or hint <= 0:
            hint = fallback if fallback is not None else self.retries.backoff_seconds * 2 ** (attempt - 1)
        self.remaining = None  # the wait covers the window
        return hint

    def wait_rate_limit(self, attempt: int, wait: float) -> bool:
        """Wait out 429 number ``attempt``; False (and no wait) when the wait is too long or too many."""
        if wait > self.retries.max_wait or attempt > self.retries.max_retries:
            return False
        self.pacer.wait(wait, rate_limit=True)
        return True

    def backoff(self, failures: int) -> bool:
        """Back off after failure number ``failures`` (never less than ``Retry-After``); False (and no
        wait) when the retries are used up."""
        if failures > self.retries.max_retries:
            return False
        pause = self.retries.backoff(failures, self.retry_after())
        log.info("%s; trying again in %.0f s (retry %d of %d)", self._what_failed(), pause, failures,
                 self.retries.max_retries)
        self.pacer.wait(pause)
        return True

    def _what_failed(self) -> str:
        """The last request's failure in a few words, for the retry notice (no query, no token)."""
        parts = urlsplit(self.last_url)
        where = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else "a request"
        if self.last_failure is not None:
            return f"{where}: {self.last_failure.text}"
        response = self.last_response
        if response is not None:
            return f"{where}: HTTP {response.status_code} {response.reason or ''}".rstrip()
        return f"{where}: failed"

    def _before_request(self) -> None:
        wait = self.window_wait()
        if wait is not None and wait > 0:
            self.pacer.wait(min(wait, self.retries.max_wait), rate_limit=True)
            self.remaining = None
            return
        self.pacer.pace()

    def _after_request(self, response: requests.Response | None) -> None:
        self.pacer.done()
        self.pacer.counts.requests += 1
        self.total_requests += 1
        if response is None or self._limits is None:
            return
        self.remaining, reset_in = self._limits(response)
        self.reset_at = None if reset_in is None else self.pacer.clock() + reset_in


@contextmanager
def network_errors(timed_out: str, failed: str) -> Iterator[None]:
    """Turn requests' timeouts and connection failures into SourceUnavailable: the message
    ``timed_out``, or ``failed`` followed by what went wrong."""
    try:
        yield
    except DeadlineExceeded as exc:
        raise SourceUnavailable(f"{failed}: {exc}", kind="timeout") from exc
    except requests.Timeout as exc:
        raise SourceUnavailable(timed_out, kind="timeout") from exc
    except requests.RequestException as exc:
        url = exc.request.url if exc.request is not None and exc.request.url else ""
        raise SourceUnavailable(f"{failed}: {network_failure(exc, url).text}", kind="network") from exc


class HttpClient:
    """Base of a source that owns one HttpSession (``_http``): a context manager that closes it."""

    _http: HttpSession

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def total_requests(self) -> int:
        """Requests made through this source since it was made."""
        return self._http.total_requests

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
