"""Safe media download: public addresses only, capped size and time, allow-listed image formats.

A federated post can point a media URL anywhere, including our own network. Every
connection therefore resolves its host once, checks every address, and connects to
exactly the checked addresses (no second lookup a rebinding DNS server could answer
differently). Redirects are followed by hand, each hop checked the same way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from hiljade import __version__
from hiljade.defaults import DEFAULTS
from hiljade.errors import ConfigError, MediaRefused, SourceUnavailable, http_error
from hiljade.harvester.deadline import DeadlineAdapter, DeadlineExceeded, check_deadline, request_deadline
from hiljade.harvester.http import HttpSession, network_errors
from hiljade.pipeline.images import DEFAULT_FORMATS, inspect_image, stored_format, strip_metadata

__all__ = ["FetchedMedia", "MediaPolicy", "fetch_media", "inspect_image", "is_public_address",
           "media_session", "stored_format", "strip_metadata"]

Resolver = Callable[..., list[tuple[Any, ...]]]

MEDIA = DEFAULTS["media"]
DEFAULT_USER_AGENT = f"hiljade/{__version__} (media fetcher)"
CHUNK = 64 * 1024
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CONFIG_KEYS = {"allow_hosts", "max_bytes", "timeout_seconds", "total_timeout_seconds", "max_redirects",
                "max_pixels", "formats", "user_agent"}


@dataclass(frozen=True)
class MediaPolicy:
    """Limits for one media download; ``allow_hosts`` entries are ``host`` or ``host:port``."""

    allow_hosts: tuple[str, ...] = tuple(MEDIA["allow_hosts"])
    max_bytes: int = MEDIA["max_bytes"]
    timeout: float = MEDIA["timeout_seconds"]  # connect and per-read timeout, seconds
    max_redirects: int = MEDIA["max_redirects"]
    max_pixels: int = MEDIA["max_pixels"]
    formats: tuple[str, ...] = DEFAULT_FORMATS
    user_agent: str = DEFAULT_USER_AGENT
    total_timeout: float = MEDIA["total_timeout_seconds"]  # the whole download, redirects included

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> MediaPolicy:
        """Build from the ``media`` config section; raise ConfigError listing every problem."""
        section = dict(section or {})
        problems = [f"media.{key}: unknown key (known: {', '.join(sorted(_CONFIG_KEYS))})"
                    for key in sorted(set(section) - _CONFIG_KEYS)]
        kwargs: dict[str, Any] = {}
        hosts = section.get("allow_hosts", MEDIA["allow_hosts"])
        if isinstance(hosts, str) or not all(isinstance(h, str) and h.strip() for h in hosts):
            problems.append("media.allow_hosts: give a list of host or host:port strings")
        else:
            kwargs["allow_hosts"] = tuple(h.strip().lower() for h in hosts)
        for key, attr, kind in (("max_bytes", "max_bytes", int), ("timeout_seconds", "timeout", float),
                                ("total_timeout_seconds", "total_timeout", float),
                                ("max_redirects", "max_redirects", int), ("max_pixels", "max_pixels", int)):
            if key not in section:
                continue
            value = section[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and value != int(value)
            ):
                problems.append(f"media.{key}: expected a number, got {value!r}")
            elif value < 0 or (value == 0 and key != "max_redirects"):
                problems.append(f"media.{key}: must be positive, got {value!r}")
            else:
                kwargs[attr] = kind(value)
        if "formats" in section:
            formats = section["formats"]
            if isinstance(formats, str) or not formats or not all(isinstance(f, str) for f in formats):
                problems.append("media.formats: give a non-empty list of Pillow format names (JPEG, PNG ...)")
            else:
                kwargs["formats"] = tuple(f.upper() for f in formats)
        if "user_agent" in section:
            if not isinstance(section["user_agent"], str) or not section["user_agent"].strip():
                problems.append("media.user_agent: give a non-empty string that identifies this installation")
            else:
                kwargs["user_agent"] = section["user_agent"].strip()
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)

    def allows_host(self, host: str, port: int) -> bool:
        """True when ``host`` (or ``host:port``) is allow-listed and skips the address check."""
        host = host.lower().rstrip(".")
        shown = f"[{host}]" if ":" in host else host
        return host in self.allow_hosts or f"{shown}:{port}" in self.allow_hosts


@dataclass(frozen=True)
class FetchedMedia:
    """A downloaded, checked image."""

    url: str
    final_url: str
    content_type: str
    data: bytes = field(repr=False)
    sha256: str
    format: str
    width: int
    height: int


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (embedded IPv4 in IPv6 checked too)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or ip in _CGNAT):
        return False
    return ip.is_global


def checked_addresses(host: str, port: int, policy: MediaPolicy, resolve: Resolver) -> list[tuple[Any, ...]]:
    """Resolve ``host`` once; return its (family, sockaddr) pairs, or refuse if any address is not public."""
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceUnavailable(f"cannot resolve {host}: {exc}", kind="dns") from exc
    found = [(info[0], info[4]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not found:
        raise SourceUnavailable(f"{host} has no IPv4/IPv6 address", kind="dns")
    if not policy.allows_host(host, port):
        bad = sorted({sockaddr[0] for _, sockaddr in found if not is_public_address(sockaddr[0])})
        if bad:
            raise MediaRefused(f"{host} resolves to a non-public address ({', '.join(bad)})",
                               reason="private_address")
    return found


def _open_socket(family: int, sockaddr: tuple[Any, ...], timeout: Any, options: Any) -> socket.socket:
    """Connect a TCP socket to one already-checked address (no name lookup happens here)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        for option in options or ():
            sock.setsockopt(*option)
        if isinstance(timeout, (int, float)):
            sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedConnectionMixin:
    """Resolve, check and connect in one step, to the checked addresses only."""

    policy: MediaPolicy
    resolve: Resolver

    def _new_conn(self) -> socket.socket:
        host = self.host.strip("[]")  # type: ignore[attr-defined]
        last: OSError | None = None
        for family, sockaddr in checked_addresses(host, self.port, self.policy, self.resolve):  # type: ignore[attr-defined]
            try:
                return _open_socket(family, sockaddr, self.timeout, self.socket_options)  # type: ignore[attr-defined]
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connection to {host} timed out") from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"failed to connect to {host}: {last}")


class _GuardedAdapter(DeadlineAdapter):
    """A requests transport whose every new connection goes through the address guard, and whose
    every request is answered in full within the policy's total timeout."""

    def __init__(self, policy: MediaPolicy, resolve: Resolver) -> None:
        self.policy = policy
        self.resolve = resolve
        super().__init__(policy.total_timeout, max_retries=0)

    def connection_classes(self) -> tuple[type, type]:
        attrs = {"policy": self.policy, "resolve": staticmethod(self.resolve)}
        return (type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs),
                type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs))


def media_session(policy: MediaPolicy, resolve: Resolver = socket.getaddrinfo) -> HttpSession:
    """A session that only connects to checked addresses and ignores proxy/CA environment settings."""
    session = HttpSession()
    guard_session(session, policy, resolve)
    return session


def guard_session(session: requests.Session, policy: MediaPolicy, resolve: Resolver) -> None:
    """Mount the address guard on ``session`` (kept when it already guards with this policy)."""
    session.trust_env = False  # an environment proxy would connect on our behalf, unchecked
    session.proxies = {}
    for prefix in ("http://", "https://"):
        current = session.adapters.get(prefix)
        if not (isinstance(current, _GuardedAdapter) and current.policy == policy
                and current.resolve is resolve):
            if current is not None:
                current.close()  # its pooled connections were checked under another policy
            session.mount(prefix, _GuardedAdapter(policy, resolve))


def check_url(url: str) -> tuple[str, int]:
    """Refuse anything but an http(s) URL with a host; return (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MediaRefused(f"malformed URL {url!r}: {exc}", reason="bad_url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise MediaRefused(f"scheme {scheme or '(none)'} refused: only http and https", reason="scheme")
    if not parts.hostname:
        raise MediaRefused(f"URL without a host: {url!r}", reason="bad_url")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def fetch_media(
    url: str,
    policy: MediaPolicy,
    *,
    session: requests.Session | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> FetchedMedia:
    """Download one image under ``policy``; raise MediaRefused or a SourceError."""
    own = session is None
    session = session or HttpSession()
    guard_session(session, policy, resolve)
    deadline = time.monotonic() + policy.total_timeout
    current = url
    try:
        for _hop in range(policy.max_redirects + 1):
            check_url(current)
            if time.monotonic() > deadline:
                raise _too_slow(current, policy)
            with request_deadline(deadline - time.monotonic()):  # headers and body of this hop
                response = _get(session, current, policy)
            with response:
                target = session.get_redirect_target(response)
                if target is not None:
                    current = urljoin(current, target)
                    continue
                _raise_for_status(response, current)
                data = _read_capped(response, policy, deadline)
                content_type = response.headers.get("Content-Type", "")
            fmt, width, height = inspect_image(data, policy)
            digest = hashlib.sha256(data).hexdigest()
            return FetchedMedia(url=url, final_url=current, content_type=content_type, data=data,
                                sha256=digest, format=fmt, width=width, height=height)
        raise MediaRefused(f"more than {policy.max_redirects} redirects from {url}",
                           reason="too_many_redirects")
    finally:
        if own:
            session.close()


def _get(session: requests.Session, url: str, policy: MediaPolicy) -> requests.Response:
    headers = {"User-Agent": policy.user_agent, "Accept": "image/*"}
    with network_errors(f"timed out fetching {url}", f"cannot fetch {url}"):
        try:
            return session.get(url, headers=headers, stream=True, allow_redirects=False,
                               timeout=(policy.timeout, policy.timeout))
        except DeadlineExceeded as exc:
            raise _too_slow(url, policy) from exc


def _too_slow(url: str, policy: MediaPolicy) -> SourceUnavailable:
    host = urlsplit(url).hostname or "the server"
    return SourceUnavailable(f"cannot fetch {url}: no complete answer from {host} within "
                             f"{policy.total_timeout:g} s", kind="timeout")


def _raise_for_status(response: requests.Response, url: str) -> None:
    """Anything but a 2xx (redirects were followed already) raises the error of its status."""
    if response.status_code >= 300:
        raise http_error(response.status_code, f"HTTP {response.status_code} fetching {url}",
                         headers=response.headers)


def _read_some(response: requests.Response) -> bytes:
    """The body bytes that have arrived (at most CHUNK), decoded; b"" at the end."""
    try:
        return response.raw.read1(CHUNK, decode_content=True)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise SourceUnavailable(f"download broke off: {exc}", kind="network") from exc


def _read_capped(response: requests.Response, policy: MediaPolicy, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise MediaRefused(f"too large: Content-Length {declared} > {policy.max_bytes} bytes",
                           reason="too_large")
    buffer = bytearray()
    try:
        while chunk := _read_some(response):
            buffer += chunk
            if len(buffer) > policy.max_bytes:
                raise MediaRefused(f"too large: body exceeds {policy.max_bytes} bytes", reason="too_large")
            if time.monotonic() > deadline:
                raise _too_slow(response.url, policy)
        check_deadline(response)  # a body without a length ends quietly when the deadline shuts it
    except (SourceUnavailable, DeadlineExceeded) as exc:
        if time.monotonic() > deadline:  # cut off by the deadline, however the read noticed it
            raise _too_slow(response.url, policy) from exc
        raise
    return bytes(buffer)
