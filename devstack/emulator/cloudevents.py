"""CloudEvents (binary mode) as the service speaks them to event handlers: pure helpers.

Request headers and signature, connect-response overrides, user-event reply mapping,
response metadata and cookies. The HTTP I/O lives in upstream.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from . import safejson
from .jsonprotocol import Payload, valid_group_name

METADATA_HEADER_PREFIX = "x-webpubsub-metadata-"


class UpstreamError(Exception):
    """The handler could not be reached or answered unusably."""


class ConnectRejected(Exception):
    """The connect handler answered non-2xx; the client gets that status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"connect rejected with {status}")
        self.status = status


def signature(keys: list[str], connection_id: str) -> str:
    return ",".join(
        "sha256="
        + hmac.new(key.encode("utf-8"), connection_id.encode("utf-8"), hashlib.sha256).hexdigest()
        for key in keys
    )


def ce_time(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class EventContext:
    """Per-connection facts that go into every event's headers."""

    hub: str
    connection_id: str
    user_id: str | None = None
    subprotocol: str | None = None
    state: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)


def event_headers(
    ctx: EventContext,
    *,
    ce_type: str,
    event_name: str,
    ce_id: str,
    keys: list[str],
    origin: str,
    content_type: str,
    metadata: tuple[tuple[str, str], ...] = (),
) -> dict[str, str]:
    headers = {
        "Content-Type": content_type,
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": ce_type,
        "ce-source": f"/hubs/{ctx.hub}/client/{ctx.connection_id}",
        "ce-id": ce_id,
        "ce-time": ce_time(),
        "ce-hub": ctx.hub,
        "ce-connectionId": ctx.connection_id,
        "ce-eventName": event_name,
        "ce-signature": signature(keys, ctx.connection_id),
        "WebHook-Request-Origin": origin,
    }
    if ctx.user_id:
        headers["ce-userId"] = ctx.user_id
    if ctx.subprotocol:
        headers["ce-subprotocol"] = ctx.subprotocol
    if ctx.state is not None:
        headers["ce-connectionState"] = ctx.state
    if ctx.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in ctx.cookies.items())
    for key, value in metadata:
        headers[METADATA_HEADER_PREFIX + key.lower()] = value
    return headers


def payload_content_type(payload: Payload) -> str:
    return {
        "text": "text/plain; charset=utf-8",
        "json": "application/json",
        "binary": "application/octet-stream",
    }[payload.data_type]


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: CIMultiDictProxy[str] | CIMultiDict[str]
    body: bytes


@dataclass(frozen=True)
class ConnectOverrides:
    """What a connect response changes; None means keep the token's value."""

    user_id: str | None = None
    roles: list[str] | None = None
    groups: list[str] | None = None
    subprotocol: str | None = None


def parse_connect_body(body: bytes) -> ConnectOverrides:
    """Interpret a 2xx connect response body; raise UpstreamError when it is malformed."""
    if not body.strip():
        return ConnectOverrides()
    try:
        doc = safejson.loads(body)
    except ValueError as exc:
        raise UpstreamError("connect response is not valid JSON") from exc
    if doc is None:
        return ConnectOverrides()
    if not isinstance(doc, dict):
        raise UpstreamError("connect response must be a JSON object")
    user_id = _lookup(doc, "userId")
    if user_id is not None and not isinstance(user_id, str):
        raise UpstreamError("userId must be a string")
    roles = _lookup(doc, "roles")
    if roles is not None and (
        not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
    ):
        raise UpstreamError("roles must be an array of strings")
    groups = _lookup(doc, "groups")
    if groups is not None and (
        not isinstance(groups, list) or not all(valid_group_name(g) for g in groups)
    ):
        raise UpstreamError("groups must be an array of valid group names")
    subprotocol = _lookup(doc, "subprotocol")
    if subprotocol is not None and (not isinstance(subprotocol, str) or not subprotocol):
        raise UpstreamError("subprotocol must be a non-empty string")
    return ConnectOverrides(user_id, roles, groups or None, subprotocol)


def _lookup(doc: Mapping[str, Any], name: str) -> Any:
    # The service's JSON reader is case-insensitive on property names.
    for key, value in doc.items():
        if key.lower() == name.lower():
            return value
    return None


def response_metadata(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """x-webpubsub-metadata-* response headers -> metadata (key lower-cased, last value)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower().startswith(METADATA_HEADER_PREFIX) and len(name) > len(
            METADATA_HEADER_PREFIX
        ):
            out[name[len(METADATA_HEADER_PREFIX) :].lower()] = value.split(",")[-1].strip()
    return tuple(out.items())


def reply_payload(
    content_type: str | None, body: bytes, headers: Mapping[str, str]
) -> Payload | None:
    """Map a user-event reply to the message sent back; None = no reply."""
    metadata = response_metadata(headers)
    if not body:
        return Payload("text", b"", metadata) if metadata else None
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/plain":
        charset = _charset(content_type or "") or "utf-8"
        try:
            text = body.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise UpstreamError("reply text cannot be decoded") from exc
        return Payload("text", text.encode("utf-8"), metadata)
    if media == "application/json":
        try:
            safejson.loads(body)
        except ValueError as exc:
            raise UpstreamError("reply is not valid JSON") from exc
        return Payload("json", body, metadata)
    if media in ("application/octet-stream", ""):
        return Payload("binary", body, metadata)
    raise UpstreamError(f"unsupported reply content type {media!r}")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def store_cookies(jar: dict[str, str], set_cookie_values: list[str]) -> None:
    for raw in set_cookie_values:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(raw)
        except CookieError:
            continue
        for name, morsel in cookie.items():
            jar[name] = morsel.value


def retryable_status(status: int) -> bool:
    return status == 408 or status >= 500
