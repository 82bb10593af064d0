"""Convert between the host's HTTP view and the worker's, with azure-functions' own converters.

The worker decodes an invocation with the binding registry's ``httpTrigger`` converter and
encodes the result with its ``http`` converter; both take or return ``meta.Datum`` trees shaped
like the worker's gRPC messages. Reusing them (instead of constructing ``func.HttpRequest`` and
reading ``func.HttpResponse`` by hand) keeps body types, default content types and cookie
handling identical to the worker's. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.functions import meta

TEXT_PLAIN_UTF8 = "text/plain; charset=utf-8"


class UnencodableResult(TypeError):
    """The function returned something the http output binding cannot encode (None, dict...)."""


@dataclass(frozen=True)
class HostResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # The invocation failed: the host answers with its own empty 500, not the function.
    failed: bool = False


def _string(value: str) -> meta.Datum:
    return meta.Datum(value=value, type="string")


def request_datum(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    route_params: dict[str, str],
    body: bytes,
) -> meta.Datum:
    """The invocation's trigger data, shaped like the worker's RpcHttp message."""
    return meta.Datum(
        type="http",
        value={
            "method": _string(method.upper()),
            "url": _string(url),
            "headers": {name: _string(value) for name, value in headers.items()},
            "query": {name: _string(value) for name, value in query.items()},
            "params": {name: _string(value) for name, value in route_params.items()},
            "body": meta.Datum(value=body, type="bytes"),
        },
    )


def decode_request(datum: meta.Datum) -> func.HttpRequest:
    converter = meta.get_binding_registry().get("httpTrigger")
    request: func.HttpRequest = converter.decode(datum, trigger_metadata={})
    return request


def encode_result(result: Any) -> HostResponse:
    """The HTTP response the host sends for a function's return value."""
    converter = meta.get_binding_registry().get("http")
    try:
        datum = converter.encode(result, expected_type=None)
    except NotImplementedError:
        raise UnencodableResult(
            f"the http output binding cannot encode a {type(result).__name__} return value; "
            "return func.HttpResponse or str"
        ) from None
    if datum.type == "string":
        return HostResponse(200, [("Content-Type", TEXT_PLAIN_UTF8)], datum.value.encode("utf-8"))
    if datum.type != "http":
        raise UnencodableResult(f"unexpected datum type {datum.type!r} from the http converter")
    value = datum.value
    headers = [(name, header.value) for name, header in value["headers"].items()]
    for cookie in value.get("cookies") or []:
        headers.extend(("Set-Cookie", morsel.OutputString()) for morsel in cookie.values())
    body = value["body"].value
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HostResponse(int(value["status_code"].value), headers, bytes(body or b""))
