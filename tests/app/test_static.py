"""The page and its assets: content types, traversal attempts, validators, headers."""

from __future__ import annotations

import azure.functions as func
import pytest

import function_app

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


def test_assets_on_disk_stay_under_the_root_and_follow_a_new_deploy(tmp_path) -> None:
    """adapters.assets: what the disk holds, found safely and read once per version."""
    import os

    from adapters.assets import Assets

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
