"""Safe media download against a real local HTTP server; DNS answers come from the resolve seam."""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from PIL import Image, ImageCms

from hiljade.errors import ConfigError, MediaRefused, SourceNotFound, SourceUnavailable
from hiljade.harvester import media
from hiljade.harvester.media import (
    MediaPolicy,
    fetch_media,
    is_public_address,
    media_session,
    stored_format,
    strip_metadata,
)
from tests.support.http import LocalServer, QuietHandler, TrickleHandler

PUBLIC_IP = "93.184.216.34"  # looks public; tests never let a socket reach it (see the tripwire)
Route = Callable[[QuietHandler], None]


class _Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.hits.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        route = self.server.routes.get(self.path.split("?")[0])  # type: ignore[attr-defined]
        if route is None:
            self.send_error(404)
            return
        with suppress(BrokenPipeError, ConnectionResetError):
            route(self)


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[LocalServer]:
    with LocalServer(_Handler, routes=routes, hits=[]) as server:
        yield server


def body(data: bytes, content_type: str = "image/png", *, length: bool = True) -> Route:
    def route(h: QuietHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        if length:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(h: QuietHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    mode = "P" if fmt == "GIF" else "RGB"
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 1).save(out, fmt, **save)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b""
    )


def resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Callable[..., list[Any]]:
    """A getaddrinfo stand-in: host -> addresses, no real DNS."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos = []
        for address in table[host]:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    return resolve


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Tripwire: every socket the fetcher opens must go to loopback; the list records them."""
    opened: list[tuple[Any, ...]] = []
    real = media._open_socket

    def guarded(family: int, sockaddr: tuple[Any, ...], timeout: Any, options: Any) -> socket.socket:
        opened.append(sockaddr)
        assert sockaddr[0] in ("127.0.0.1", "::1"), f"test tried to connect to {sockaddr}"
        return real(family, sockaddr, timeout, options)

    monkeypatch.setattr(media, "_open_socket", guarded)
    return opened


def allow(server: LocalServer, **kwargs: Any) -> MediaPolicy:
    return MediaPolicy(allow_hosts=(f"127.0.0.1:{server.server_address[1]}",), **kwargs)


def base(server: LocalServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
def test_fetches_allowed_formats(fmt: str) -> None:
    data = image_bytes(fmt)
    with serve({"/img": body(data, f"image/{fmt.lower()}")}) as server:
        got = fetch_media(base(server) + "/img", allow(server))
        agent = server.hits[0][1]["User-Agent"]
    assert (got.format, got.width, got.height) == (fmt, 64, 48)
    assert got.data == data and got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.content_type == f"image/{fmt.lower()}" and got.final_url == got.url
    assert agent.startswith("hiljade/")


def test_loopback_refused_without_allow_list_and_never_requested(connections: list[Any]) -> None:
    with serve({"/img": body(image_bytes("PNG"))}) as server:
        with pytest.raises(MediaRefused) as err:
            fetch_media(base(server) + "/img", MediaPolicy())
        assert server.hits == []
    assert err.value.reason == "private_address" and "127.0.0.1" in str(err.value)
    assert connections == []


def test_allow_list_matches_host_or_host_port_exactly() -> None:
    with serve({"/img": body(image_bytes("PNG"))}) as server:
        port = server.server_address[1]
        assert fetch_media(base(server) + "/img", MediaPolicy(allow_hosts=("127.0.0.1",))).width == 64
        with pytest.raises(MediaRefused, match="non-public"):
            fetch_media(base(server) + "/img", MediaPolicy(allow_hosts=(f"127.0.0.1:{port + 1}",)))
        with pytest.raises(MediaRefused, match="non-public"):
            fetch_media(base(server) + "/img", MediaPolicy(allow_hosts=("127.0.0.2",)))


def test_connects_to_the_resolved_address_not_a_second_lookup(connections: list[Any]) -> None:
    calls: list[str] = []
    resolve = resolver({"cams.example.invalid": ["127.0.0.1"]}, calls)
    with serve({"/img": body(image_bytes("JPEG"), "image/jpeg")}) as server:
        port = server.server_address[1]
        policy = MediaPolicy(allow_hosts=("cams.example.invalid",))
        got = fetch_media(f"http://cams.example.invalid:{port}/img", policy, resolve=resolve)
        assert server.hits[0][1]["Host"] == f"cams.example.invalid:{port}"
    assert got.format == "JPEG"
    assert calls == ["cams.example.invalid"]  # .invalid never resolves for real: the seam was used
    assert connections == [("127.0.0.1", port)]


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.1"], ["127.0.0.1"], [PUBLIC_IP, "10.0.0.1"], ["::ffff:10.0.0.1"], ["100.64.1.2"], ["::1"]],
)
def test_public_looking_name_with_private_address_refused(
    addresses: list[str], connections: list[Any]
) -> None:
    resolve = resolver({"cdn.example.invalid": addresses})
    with pytest.raises(MediaRefused) as err:
        fetch_media("https://cdn.example.invalid/a.jpg", MediaPolicy(), resolve=resolve)
    assert err.value.reason == "private_address"
    assert connections == []


def test_dns_rebinding_between_connections_refused(monkeypatch: pytest.MonkeyPatch,
                                                   connections: list[Any]) -> None:
    """First answer public, second private: each connection checks its own answer and uses only it."""
    answers = iter([[PUBLIC_IP], ["10.0.0.1"]])
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        return resolver({host: next(answers)})(host, port)

    with serve({"/first": redirect("http://rebind.example.invalid/second"),
                "/second": body(image_bytes("PNG"))}) as server:
        checked = media._open_socket

        def public_is_our_server(family: int, sockaddr: tuple[Any, ...], timeout: Any, options: Any) -> Any:
            if sockaddr[0] == PUBLIC_IP:  # stand in for the public host: our local server
                sockaddr = ("127.0.0.1", server.server_address[1])
            return checked(family, sockaddr, timeout, options)

        monkeypatch.setattr(media, "_open_socket", public_is_our_server)
        with pytest.raises(MediaRefused) as err:
            fetch_media("http://rebind.example.invalid/first", MediaPolicy(), resolve=resolve)
        assert [path for path, _ in server.hits] == ["/first"]
    assert err.value.reason == "private_address" and "10.0.0.1" in str(err.value)
    assert calls == ["rebind.example.invalid", "rebind.example.invalid"]
    assert all(sockaddr[0] == "127.0.0.1" for sockaddr in connections)


def test_redirect_chain_followed_within_limit() -> None:
    routes = {"/a": redirect("/b", 301), "/b": redirect("/c", 307), "/c": redirect("/img", 308),
              "/img": body(image_bytes("PNG"))}
    with serve(routes) as server:
        got = fetch_media(base(server) + "/a", allow(server, max_redirects=3))
        assert [path for path, _ in server.hits] == ["/a", "/b", "/c", "/img"]
    assert got.final_url == base(server) + "/img" and got.url == base(server) + "/a"


def test_too_many_redirects_refused() -> None:
    routes = {f"/{i}": redirect(f"/{i + 1}") for i in range(10)}
    with serve(routes) as server:
        with pytest.raises(MediaRefused) as err:
            fetch_media(base(server) + "/0", allow(server, max_redirects=3))
        assert len(server.hits) == 4  # the first request plus three followed redirects
    assert err.value.reason == "too_many_redirects"


def test_redirect_to_private_address_refused(connections: list[Any]) -> None:
    resolve = resolver({"cams.example.invalid": ["127.0.0.1"], "intranet.example.invalid": ["10.0.0.1"]})
    with serve({"/img": redirect("http://intranet.example.invalid/admin")}) as server:
        port = server.server_address[1]
        policy = MediaPolicy(allow_hosts=(f"cams.example.invalid:{port}",))
        with pytest.raises(MediaRefused) as err:
            fetch_media(f"http://cams.example.invalid:{port}/img", policy, resolve=resolve)
    assert err.value.reason == "private_address"
    assert connections == [("127.0.0.1", port)]


def test_redirect_to_other_local_port_or_scheme_refused() -> None:
    routes = {"/port": redirect("http://127.0.0.1:9/x"), "/file": redirect("file:///etc/passwd")}
    with serve(routes) as server:
        with pytest.raises(MediaRefused, match="non-public"):
            fetch_media(base(server) + "/port", allow(server))
        with pytest.raises(MediaRefused) as err:
            fetch_media(base(server) + "/file", allow(server))
    assert err.value.reason == "scheme"


@pytest.mark.parametrize("url", ["ftp://example.org/a.jpg", "file:///etc/passwd", "data:image/png;base64,AA",
                                 "gopher://example.org/", "//example.org/a.jpg"])
def test_non_http_schemes_refused(url: str, connections: list[Any]) -> None:
    with pytest.raises(MediaRefused) as err:
        fetch_media(url, MediaPolicy(), resolve=resolver({}))
    assert err.value.reason == "scheme" and connections == []


def test_oversize_refused_by_content_length_before_reading() -> None:
    big = body(b"\0" * 200_000, "image/jpeg")
    with serve({"/big": big}) as server, pytest.raises(MediaRefused, match="Content-Length 200000") as err:
        fetch_media(base(server) + "/big", allow(server, max_bytes=100_000))
    assert err.value.reason == "too_large"


def test_oversize_refused_while_streaming_without_content_length() -> None:
    big = image_bytes("PNG") + b"\0" * 300_000
    with serve({"/big": body(big, length=False)}) as server, pytest.raises(MediaRefused) as err:
        fetch_media(base(server) + "/big", allow(server, max_bytes=100_000))
    assert err.value.reason == "too_large"


def test_compressed_body_is_capped_after_decoding() -> None:
    bomb = zlib.compress(b"\0" * 5_000_000, 9)

    def gzip_bomb(h: QuietHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "deflate")
        h.send_header("Content-Length", str(len(bomb)))
        h.end_headers()
        h.wfile.write(bomb)

    with serve({"/bomb": gzip_bomb}) as server, pytest.raises(MediaRefused, match="body exceeds") as err:
        fetch_media(base(server) + "/bomb", allow(server, max_bytes=100_000))
    assert err.value.reason == "too_large" and len(bomb) < 100_000


def test_size_cap_boundary_is_exact() -> None:
    data = image_bytes("PNG")
    with serve({"/img": body(data), "/stream": body(data, length=False)}) as server:
        for path in ("/img", "/stream"):
            assert fetch_media(base(server) + path, allow(server, max_bytes=len(data))).data == data
            with pytest.raises(MediaRefused, match="too large"):
                fetch_media(base(server) + path, allow(server, max_bytes=len(data) - 1))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<!doctype html><html><body>not a picture</body></html>", "not_an_image"),
        (image_bytes("PNG")[:60], "not_an_image"),  # truncated
        (image_bytes("GIF"), "format_not_allowed"),
        (image_bytes("BMP"), "format_not_allowed"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "format_not_allowed"),
        (png_declaring(100_000, 100_000), "too_many_pixels"),  # past Pillow's own bomb limit
        (png_declaring(8000, 7000), "too_many_pixels"),  # 56 Mpx: past our 50 Mpx, below Pillow's
    ],
)
def test_bad_payloads_refused(payload: bytes, reason: str) -> None:
    with serve({"/x": body(payload, "image/png")}) as server, pytest.raises(MediaRefused) as err:
        fetch_media(base(server) + "/x", allow(server))
    assert err.value.reason == reason


def test_format_allow_list_comes_from_the_policy() -> None:
    with serve({"/j": body(image_bytes("JPEG"), "image/jpeg")}) as server:
        with pytest.raises(MediaRefused, match="format not allowed: JPEG"):
            fetch_media(base(server) + "/j", allow(server, formats=("PNG",)))
        assert fetch_media(base(server) + "/j", allow(server, formats=("JPEG",))).format == "JPEG"


def test_pixel_limit_is_local_and_leaves_no_global_state() -> None:
    filters_before = list(warnings.filters)
    limit_before = Image.MAX_IMAGE_PIXELS
    routes = {"/bomb": body(png_declaring(100_000, 100_000)), "/small": body(image_bytes("PNG"))}
    with serve(routes) as server:
        with pytest.raises(MediaRefused, match="too many pixels"):
            fetch_media(base(server) + "/bomb", allow(server))
        with pytest.raises(MediaRefused, match="too many pixels: 64x48 > 1000"):
            fetch_media(base(server) + "/small", allow(server, max_pixels=1000))
    assert warnings.filters == filters_before
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_http_errors_and_network_failures() -> None:
    with serve({}) as server:
        with pytest.raises(SourceNotFound):
            fetch_media(base(server) + "/missing", allow(server))
        port = server.server_address[1]
    with pytest.raises(SourceUnavailable):  # the server is gone: connection refused
        fetch_media(f"http://127.0.0.1:{port}/img", MediaPolicy(allow_hosts=(f"127.0.0.1:{port}",)))


def test_slow_server_times_out() -> None:
    def slow(h: QuietHandler) -> None:
        time.sleep(1.0)
        body(image_bytes("PNG"))(h)

    def trickle(h: QuietHandler) -> None:
        h.send_response(200)
        h.end_headers()
        for _ in range(30):
            h.wfile.write(b"\0")
            h.wfile.flush()
            time.sleep(0.05)

    with serve({"/slow": slow, "/trickle": trickle}) as server:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable):
            fetch_media(base(server) + "/slow", allow(server, timeout=0.3))
        with pytest.raises(SourceUnavailable, match=r"no complete answer from 127\.0\.0\.1 within 0\.4 s"):
            fetch_media(base(server) + "/trickle", allow(server, timeout=1.0, total_timeout=0.4))
        assert time.monotonic() - started < 1.2  # the trickle alone would last 1.5 s


def test_session_reuse_keeps_the_guard() -> None:
    with serve({"/img": body(image_bytes("PNG"))}) as server:
        policy = allow(server)
        session = media_session(policy)
        adapter = session.get_adapter("http://x")
        for _ in range(3):
            assert fetch_media(base(server) + "/img", policy, session=session).width == 64
        assert session.get_adapter("http://x") is adapter and session.trust_env is False
        with pytest.raises(MediaRefused):  # a stricter policy on the same session still applies
            fetch_media(base(server) + "/img", MediaPolicy(), session=session)
        session.close()


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2a00:1450:4001:80b::200e", True), ("10.1.2.3", False), ("172.16.0.1", False),
     ("192.168.1.1", False), ("127.0.0.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
     ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False), ("255.255.255.255", False),
     ("::1", False), ("::", False), ("fe80::1%eth0", False), ("fc00::1", False), ("ff02::1", False),
     ("::ffff:192.168.0.1", False), ("::ffff:8.8.8.8", True), ("2002:0a00:0001::1", False),
     ("64:ff9b::10.0.0.1", False), ("192.0.2.1", False)],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_policy_from_config() -> None:
    policy = MediaPolicy.from_config({"allow_hosts": ["Files.Example.org", "127.0.0.1:8080"],
                                      "max_bytes": 1000, "timeout_seconds": 5, "max_redirects": 0,
                                      "max_pixels": 10})
    assert policy.allow_hosts == ("files.example.org", "127.0.0.1:8080")
    assert (policy.max_bytes, policy.timeout, policy.max_redirects, policy.max_pixels) == (1000, 5.0, 0, 10)
    assert policy.allows_host("FILES.example.org", 443) and policy.allows_host("127.0.0.1", 8080)
    assert not policy.allows_host("127.0.0.1", 8081)
    assert MediaPolicy.from_config({}) == MediaPolicy()
    with pytest.raises(ConfigError) as err:
        MediaPolicy.from_config({"allow_hosts": "x.org", "max_bytes": -1, "timeout_seconds": "soon",
                                 "maxbytes": 1})
    assert len(err.value.problems) == 4


def test_strip_metadata_removes_gps_exif_xmp_icc_and_applies_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (44.0, 48.0, 30.0), 3: "E", 4: (20.0, 27.0, 40.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>GPSLatitude 44,48.5N</x:xmpmeta>'
    picture = Image.new("RGB", (60, 40), "blue")
    picture.paste((255, 0, 0), (0, 0, 10, 10))  # a red top-left corner
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF"):
        source = io.BytesIO()
        extra = {"xmp": xmp} if fmt != "HEIF" else {}
        if fmt == "HEIF":
            image_bytes("HEIF")  # registers the HEIF plugin for saving
        picture.save(source, fmt, exif=exif.tobytes(), icc_profile=icc, **extra)
        with Image.open(io.BytesIO(source.getvalue())) as before:
            assert before.getexif().get_ifd(0x8825), fmt
        clean = strip_metadata(source.getvalue(), fmt)
        for needle in (b"CameraMaker", b"xmpmeta", b"GPSLatitude"):
            assert needle not in clean, (fmt, needle)
        with Image.open(io.BytesIO(clean)) as after:
            assert after.format == stored_format(fmt)
            assert not after.getexif().get_ifd(0x8825) and 0x010F not in after.getexif()
            assert "icc_profile" not in after.info and "xmp" not in after.info
            assert after.size == (40, 60), fmt  # orientation applied, then dropped
            red, green, blue = after.convert("RGB").getpixel((35, 4))  # the red corner is now top-right
            assert red > 180 and blue < 90, (fmt, red, green, blue)


def test_strip_metadata_on_real_photos(shared_data: Any) -> None:
    root = shared_data / "exif_images"
    names = ["exif-samples/jpg/gps/DSCN0010.jpg", "metadata-extractor-images/webp/Issue 473 (Java).webp",
             "metadata-extractor-images/tif/Issue 151.tif", "metadata-extractor-images/heic/exif-at-eof.heic"]
    routes = {f"/{i}": body((root / name).read_bytes(), "application/octet-stream")
              for i, name in enumerate(names)}
    with serve(routes) as server:
        for i, name in enumerate(names):
            got = fetch_media(f"{base(server)}/{i}", allow(server))
            with Image.open(io.BytesIO(got.data)) as original:
                assert original.getexif().get_ifd(0x8825), name
            clean = strip_metadata(got.data, got.format)
            with Image.open(io.BytesIO(clean)) as after:
                assert not after.getexif().get_ifd(0x8825), name
                assert "xmp" not in after.info and "icc_profile" not in after.info, name
                assert sorted(after.size) == sorted((got.width, got.height)), name


def test_multi_picture_jpeg_is_reported_as_jpeg_and_stored_as_one_frame() -> None:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (44.0, 48.0, 30.0), 3: "E", 4: (20.0, 27.0, 40.0)}
    out = io.BytesIO()
    first, second = Image.new("RGB", (50, 40), "red"), Image.new("RGB", (50, 40))
    first.save(out, "MPO", save_all=True, append_images=[second], exif=exif.tobytes())
    with serve({"/mpo": body(out.getvalue(), "image/jpeg")}) as server:
        got = fetch_media(base(server) + "/mpo", allow(server))
    assert (got.format, got.width, got.height) == ("JPEG", 50, 40)
    with Image.open(io.BytesIO(strip_metadata(got.data, got.format))) as clean:
        assert clean.format == "JPEG" and getattr(clean, "n_frames", 1) == 1
        assert not clean.getexif().get_ifd(0x8825)


@pytest.mark.parametrize("mode", ["headers", "body_no_length"])
def test_a_trickled_answer_fails_at_the_total_timeout(mode: str) -> None:
    """Headers (or a body without a length) at one byte each 0.3 s never trip the per-read timeout;
    the total timeout ends the download all the same."""
    with LocalServer(TrickleHandler, trickle=mode, interval=0.3) as server:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"no complete answer from 127\.0\.0\.1 within 1\.5 s"):
            fetch_media(base(server) + "/img", allow(server, timeout=1.0, total_timeout=1.5))
        assert time.monotonic() - started < 4.0  # the stand-in would trickle for 12 s
