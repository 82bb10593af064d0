"""The page and its assets: content types, traversal attempts, validators, headers, gzip."""

from __future__ import annotations

import gzip
import os

import azure.functions as func
import pytest

import function_app
from adapters.assets import Assets, gzip_bytes
from chat import static_files

from .conftest import RecordingService, connection_string


def get(route: str, path: str | None = None, headers: dict | None = None, method: str = "GET"):
    request = func.HttpRequest(
        method,
        f"http://localhost:7071/api/{route}",
        headers=headers or {},
        body=b"",
        route_params={"path": path} if path is not None else {},
    )
    if route == "index":
        return function_app.index(request)
    return function_app.static(request)


def test_index_page(app: RecordingService) -> None:
    response = get("index")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    body = response.get_body()
    assert b"<html" in body.lower()
    assert b"static/app.js" in body
    assert b"<script>" not in body  # no inline script: everything is in files


def test_security_headers(app: RecordingService) -> None:
    headers = get("index").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert f"connect-src 'self' {app.endpoint.replace('http', 'ws')}" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
    ],
)
def test_assets_and_content_types(app: RecordingService, path: str, content_type: str) -> None:
    response = get("static", path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_body()


@pytest.mark.parametrize(
    "path",
    [
        "../function_app.py",
        "../../etc/passwd",
        "/etc/passwd",
        "..%2Ffunction_app.py",
        "..\\function_app.py",
        "./app.js/../../host.json",
        ".hidden",
        "sub/../../host.json",
        "app.js\x00.png",
        "",
        "nope.js",
        ".",
    ],
)
def test_traversal_and_missing_files_are_404(app: RecordingService, path: str) -> None:
    response = get("static", path)
    assert response.status_code == 404
    assert b"root:" not in response.get_body()
    assert b"import" not in response.get_body()


def test_etag_and_304(app: RecordingService) -> None:
    first = get("static", "app.js")
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert first.headers["Cache-Control"] == "no-cache"
    again = get("static", "app.js", {"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_body() == b""
    assert get("static", "app.js", {"If-None-Match": '"other"'}).status_code == 200
    since = first.headers["Last-Modified"]
    assert get("static", "app.js", {"If-Modified-Since": since}).status_code == 304
    assert get("static", "app.js", {"If-Modified-Since": "garbage"}).status_code == 200


def test_head_has_no_body(app: RecordingService) -> None:
    response = get("index", method="HEAD")
    assert response.status_code == 200
    assert response.get_body() == b""


def test_lazy_auth_advertises_the_direct_url(configure, service: RecordingService) -> None:
    configure(WebPubSubConnectionString=connection_string(service.endpoint))
    assert b'name="chat-direct-url" content=""' in get("index").get_body()
    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatLazyAuth="true")
    direct = service.endpoint.replace("http", "ws") + "/client/hubs/Sample_ChatApp"
    assert f'name="chat-direct-url" content="{direct}"'.encode() in get("index").get_body()


def test_the_page_says_the_configured_message_length_limit(
    configure, service: RecordingService
) -> None:
    """The compose counter counts against the server's real limit, not the default."""
    configure(WebPubSubConnectionString=connection_string(service.endpoint))
    assert b'<meta name="chat-max-message-length" content="2000">' in get("index").get_body()
    configure(
        WebPubSubConnectionString=connection_string(service.endpoint), ChatMaxMessageLength="100"
    )
    page = get("index").get_body()
    assert page.count(b"chat-max-message-length") == 1
    assert b'<meta name="chat-max-message-length" content="100">' in page


def test_assets_on_disk_stay_under_the_root_and_follow_a_new_deploy(tmp_path) -> None:
    """adapters.assets: what the disk holds, found safely and read once per version."""
    root = tmp_path / "static"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "app.js").write_text("one")
    assets = Assets(str(root))
    assert assets.get("escape.txt") is None  # a symlink out of the root
    assert assets.get("../secret.txt") is None and assets.get("missing.js") is None
    first = assets.get("app.js")
    assert first is not None and first.body == b"one"
    (root / "app.js").write_text("two")
    os.utime(root / "app.js", ns=(0, 10**18))  # a deploy: a new mtime
    second = assets.get("app.js")
    assert second is not None and second.body == b"two" and second.etag != first.etag
    (root / "app.js").unlink()
    assert assets.get("app.js") is None


# --- gzip -------------------------------------------------------------------------------------

GZIP = {"Accept-Encoding": "gzip, deflate, br, zstd"}  # what Chromium sends


@pytest.mark.parametrize(
    ("header", "gzip_wanted"),
    [
        (None, False),  # says nothing: could be a script that cannot decode
        ("", False),  # RFC 9110: an empty value means identity only
        ("gzip", True),
        ("GZip", True),  # codings are case-insensitive
        ("x-gzip", True),  # the old alias
        ("gzip, deflate, br, zstd", True),
        ("br, zstd", False),  # only codings we do not make
        ("deflate;q=1, gzip;q=0.5", True),  # a lower q is still acceptable
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=0.001", True),
        ("gzip ; q=0.5 , identity;q=0.4", True),
        ("gzip;q=0.5, identity", False),  # identity preferred outright
        ("gzip;q=0.5, identity;q=0.5", True),  # a tie: the smaller body
        ("identity", False),
        ("*", True),
        ("*;q=0", False),  # nothing acceptable: identity all the same (RFC 9110 12.5.3)
        ("*;q=0, gzip", True),  # the named coding beats the wildcard
        ("gzip;q=0, *", False),  # ... either way round
        ("*;q=0.5, gzip;q=0.4", False),  # `*` covers identity, preferred
        ("*, identity;q=0", True),
        ("gzip;q=2", False),  # not a qvalue: the element is skipped
        ("gzip;q=abc, *", True),  # ... and the rest still counts
        ("gzip;q=0.5000", False),  # at most three decimals
        ("gzip;q=1.0", True),
        ("gzip;q=1.001", False),
        ("gzip;level=9;q=0", False),  # q after another parameter
        (",, ;q=1, gzip", True),  # empty elements (the RFC allows them)
    ],
)
def test_accept_encoding_negotiation(header: str | None, gzip_wanted: bool) -> None:
    assert static_files.accepts_gzip(header) is gzip_wanted


def test_gzip_only_pays_for_text_big_enough_to_shrink() -> None:
    text_body = b"const line = 'the same line again';\n" * 200
    script = static_files.make_asset(text_body, ".js", 0.0)
    assert static_files.worth_compressing(script)
    gzipped = static_files.with_gzip(script, gzip_bytes(script.body)).gzipped
    assert gzipped is not None and gzip.decompress(gzipped.body) == text_body
    assert gzipped.etag.startswith('"') and gzipped.etag.endswith('-gz"')
    assert gzipped.etag != script.etag
    tiny = static_files.make_asset(b"x" * (static_files.MIN_GZIP_BYTES - 1), ".js", 0.0)
    assert not static_files.worth_compressing(tiny)
    assert not static_files.worth_compressing(static_files.make_asset(text_body, ".png", 0.0))
    assert not static_files.worth_compressing(static_files.make_asset(text_body, ".woff2", 0.0))
    # Text that does not shrink (already compressed, or random) keeps a single representation.
    noise = static_files.make_asset(os.urandom(4096), ".txt", 0.0)
    assert static_files.worth_compressing(noise)
    assert static_files.with_gzip(noise, gzip_bytes(noise.body)).gzipped is None


def test_gzip_is_served_to_whoever_accepts_it(app: RecordingService) -> None:
    plain = get("static", "app.js")
    packed = get("static", "app.js", GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.get_body()) == plain.get_body()
    assert len(packed.get_body()) < len(plain.get_body()) / 2
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"]
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["Last-Modified"] == plain.headers["Last-Modified"]
    assert packed.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in packed.headers["Content-Security-Policy"]
    refused = get("static", "app.js", {"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_body() == plain.get_body()


def test_conditional_requests_never_mix_the_codings(app: RecordingService) -> None:
    plain_tag = get("static", "style.css").headers["ETag"]
    packed_tag = get("static", "style.css", GZIP).headers["ETag"]
    # The copy the client holds matches the coding it would get now: 304, that coding's tag.
    again = get("static", "style.css", {**GZIP, "If-None-Match": packed_tag})
    assert again.status_code == 304 and again.get_body() == b""
    assert again.headers["ETag"] == packed_tag
    assert again.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in again.headers  # a 304 has no content to code
    assert get("static", "style.css", {"If-None-Match": plain_tag}).status_code == 304
    assert (
        get("static", "style.css", {"If-None-Match": f"W/{packed_tag}", **GZIP}).status_code == 304
    )
    # A copy of the other coding: the full body in the coding asked for now.
    switched = get("static", "style.css", {**GZIP, "If-None-Match": plain_tag})
    assert switched.status_code == 200
    assert switched.headers["Content-Encoding"] == "gzip"
    assert switched.headers["ETag"] == packed_tag
    back = get("static", "style.css", {"If-None-Match": packed_tag})
    assert back.status_code == 200 and "Content-Encoding" not in back.headers
    both = get("static", "style.css", {**GZIP, "If-None-Match": f"{plain_tag}, {packed_tag}"})
    assert both.status_code == 304 and both.headers["ETag"] == packed_tag


def test_head_announces_the_coding_a_get_would_use(app: RecordingService) -> None:
    got = get("index", headers=GZIP)
    head = get("index", headers=GZIP, method="HEAD")
    assert head.status_code == 200 and head.get_body() == b""
    for name in ("Content-Encoding", "ETag", "Vary", "Content-Type", "Last-Modified"):
        assert head.headers[name] == got.headers[name], name
    assert (
        get(
            "index", headers={**GZIP, "If-None-Match": got.headers["ETag"]}, method="HEAD"
        ).status_code
        == 304
    )


def test_tiny_assets_are_never_gzipped(app: RecordingService) -> None:
    response = get("static", "favicon.svg", GZIP)  # a few hundred bytes
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers and "Vary" not in response.headers
    assert response.get_body().startswith(b"<svg")


def test_the_rendered_page_is_what_gets_gzipped(configure, service: RecordingService) -> None:
    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatLazyAuth="true")
    direct = service.endpoint.replace("http", "ws") + "/client/hubs/Sample_ChatApp"
    packed = get("index", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert f'name="chat-direct-url" content="{direct}"'.encode() in gzip.decompress(
        packed.get_body()
    )


def test_gzip_is_made_once_per_version_and_the_same_bytes_every_time(tmp_path) -> None:
    root = tmp_path / "static"
    root.mkdir()
    (root / "style.css").write_text("body { margin: 0; }\n" * 300)
    assets = Assets(str(root))
    first = assets.get("style.css")
    assert first is not None and first.gzipped is not None
    assert assets.get("style.css") is first  # cached beside the asset, not gzipped per request
    # Another instance (or a restart) makes the same bytes: one strong ETag per version.
    twin = Assets(str(root)).get("style.css")
    assert twin is not None and twin.gzipped == first.gzipped
    assert gzip.decompress(first.gzipped.body) == first.body
    assert first.gzipped.body[4:8] == b"\x00\x00\x00\x00"  # the header's mtime: none
    (root / "style.css").write_text("p { color: red; }\n" * 300)
    os.utime(root / "style.css", ns=(0, 10**18))  # a deploy
    second = Assets(str(root)).get("style.css")
    assert second is not None and second.gzipped is not None
    assert second.gzipped.etag != first.gzipped.etag
    assert gzip.decompress(second.gzipped.body) == second.body
