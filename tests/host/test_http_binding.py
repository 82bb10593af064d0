"""Requests and responses go through azure-functions' own binding converters."""

from __future__ import annotations

import azure.functions as func
import pytest

from devstack.host.http_binding import (
    UnencodableResult,
    decode_request,
    encode_result,
    request_datum,
)


def test_decoded_request_is_a_real_http_request() -> None:
    request = decode_request(
        request_datum(
            method="post",
            url="http://localhost:7071/api/x?id=a",
            headers={"content-type": "application/json", "x-a": "1,2"},
            query={"id": "a"},
            route_params={"name": "n"},
            body=b'{"k": 1}',
        )
    )
    assert isinstance(request, func.HttpRequest)
    assert request.method == "POST"
    assert request.url == "http://localhost:7071/api/x?id=a"
    assert request.headers["Content-Type"] == "application/json"  # case-insensitive
    assert request.headers["x-a"] == "1,2"
    assert request.params == {"id": "a"}
    assert request.route_params == {"name": "n"}
    assert request.get_body() == b'{"k": 1}'
    assert request.get_json() == {"k": 1}


def test_str_result_is_text_plain_utf8() -> None:
    response = encode_result("héllo")
    assert response.status == 200
    assert response.headers == [("Content-Type", "text/plain; charset=utf-8")]
    assert response.body == "héllo".encode()


def test_http_response_defaults() -> None:
    response = encode_result(func.HttpResponse("hi", status_code=201))
    assert response.status == 201
    assert dict(response.headers)["content-type"] == "text/plain; charset=utf-8"
    assert response.body == b"hi"


def test_http_response_cookies_and_headers() -> None:
    result = func.HttpResponse(
        b"\x00\x01", mimetype="application/octet-stream", headers={"X-Custom": "1"}
    )
    result.headers.add("Set-Cookie", "a=1; Path=/")
    result.headers.add("Set-Cookie", "b=2; HttpOnly")
    response = encode_result(result)
    assert response.body == b"\x00\x01"
    assert ("X-Custom", "1") in response.headers
    assert ("content-type", "application/octet-stream") in response.headers
    cookies = [v for n, v in response.headers if n == "Set-Cookie"]
    assert cookies == ["a=1; Path=/", "b=2; HttpOnly"]


@pytest.mark.parametrize("result", [None, {"a": 1}, 42, b"bytes"])
def test_unencodable_results(result: object) -> None:
    with pytest.raises(UnencodableResult):
        encode_result(result)
