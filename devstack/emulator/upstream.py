"""Upstream event handler calls (CloudEvents HTTP binding, binary mode).

Pure helpers build the ce-* headers, the signature and interpret responses; the
Upstream class does the I/O: abuse-protection validation (OPTIONS, GET when OPTIONS
is 404, cached), POSTs with retry on 408/5xx after 1, 3, 5 s reusing ce-id and the
request id, and an overall timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from .config import EmulatorConfig
from .jsonprotocol import Payload, valid_group_name
from .logsafe import redact_url

log = logging.getLogger("devstack.emulator.upstream")

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
VALIDATION_TRUST_SECONDS = 60.0
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
    import json

    if not body.strip():
        return ConnectOverrides()
    try:
        doc = json.loads(body)
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
        import json

        try:
            json.loads(body)
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


@dataclass
class _Validation:
    ok: bool = False
    checked_at: float = 0.0
    retry_after: float = 0.0
    failures: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Upstream:
    """Sends events to handlers; one instance (and HTTP session) per emulator."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._validations: dict[str, _Validation] = {}

    @property
    def origin(self) -> str:
        return self.config.advertised_host

    @property
    def keys(self) -> list[str]:
        return [self.config.access_key]

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, what: str
    ) -> UpstreamResponse:
        """One attempt; logs method, URL (redacted), status and duration."""
        started = time.monotonic()
        try:
            async with self.session().request(
                method, url, headers=headers, data=body, allow_redirects=False
            ) as resp:
                data = await resp.content.read(MAX_RESPONSE_BYTES + 1)
                result = UpstreamResponse(resp.status, resp.headers.copy(), data)
        except Exception as exc:
            log.info(
                "upstream %s %s %s -> error %s (%.0f ms)",
                what,
                method,
                redact_url(url),
                type(exc).__name__,
                (time.monotonic() - started) * 1000,
            )
            raise
        log.info(
            "upstream %s %s %s -> %d (%.0f ms)",
            what,
            method,
            redact_url(url),
            result.status,
            (time.monotonic() - started) * 1000,
        )
        if len(result.body) > MAX_RESPONSE_BYTES:
            raise UpstreamError("response over 16 MiB")
        return result

    async def _with_retry(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        what: str,
        attempt_timeout: float | None = None,
    ) -> UpstreamResponse:
        delays = list(self.config.retry_delays)
        while True:
            try:
                if attempt_timeout is not None:
                    async with asyncio.timeout(attempt_timeout):
                        resp = await self._request(method, url, headers, body, what)
                else:
                    resp = await self._request(method, url, headers, body, what)
            except aiohttp.ClientConnectionError as exc:
                if not delays or isinstance(exc, aiohttp.ServerTimeoutError):
                    raise UpstreamError(f"handler unreachable: {exc}") from exc
            except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as exc:
                raise UpstreamError(f"handler call failed: {type(exc).__name__}") from exc
            else:
                if not retryable_status(resp.status) or not delays:
                    return resp
            await asyncio.sleep(delays.pop(0))

    async def validate(self, url: str) -> bool:
        """Abuse protection for one resolved validation URL, cached as the service does."""
        entry = self._validations.setdefault(url, _Validation())
        async with entry.lock:
            now = time.monotonic()
            if entry.ok and now - entry.checked_at < VALIDATION_TRUST_SECONDS:
                return True
            if not entry.ok and entry.failures and now < entry.retry_after:
                return False
            entry.ok = await self._validate_once(url)
            entry.checked_at = time.monotonic()
            if entry.ok:
                entry.failures = 0
            else:
                entry.failures += 1
                entry.retry_after = entry.checked_at + min(60.0, 2.0 ** (entry.failures - 1))
            return entry.ok

    async def _validate_once(self, url: str) -> bool:
        headers = {"WebHook-Request-Origin": self.origin, "ce-awpsversion": "1.0"}
        try:
            resp = await self._with_retry(
                "OPTIONS", url, headers, None, "validate", self.config.validation_timeout
            )
            if resp.status == 404:
                resp = await self._with_retry(
                    "GET", url, headers, None, "validate", self.config.validation_timeout
                )
        except UpstreamError as exc:
            log.warning("abuse protection failed for %s: %s", redact_url(url), exc)
            return False
        allowed = resp.headers.get("WebHook-Allowed-Origin", "").strip()
        ok = 200 <= resp.status < 300 and (allowed == "*" or allowed.lower() == self.origin.lower())
        if not ok:
            log.warning(
                "abuse protection rejected by %s (status %d, allowed origin %r)",
                redact_url(url),
                resp.status,
                allowed,
            )
        return ok

    async def send_event(
        self,
        template_url: str,
        validation_url: str,
        ctx: EventContext,
        *,
        ce_type: str,
        event_name: str,
        ce_id: str,
        body: bytes,
        content_type: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> UpstreamResponse:
        """POST one event (validating the handler first); raise UpstreamError on failure."""
        if not await self.validate(validation_url):
            raise UpstreamError("abuse protection validation failed")
        headers = event_headers(
            ctx,
            ce_type=ce_type,
            event_name=event_name,
            ce_id=ce_id,
            keys=self.keys,
            origin=self.origin,
            content_type=content_type,
            metadata=metadata,
        )
        headers["x-ms-client-request-id"] = str(uuid.uuid4())
        try:
            async with asyncio.timeout(self.config.upstream_timeout):
                resp = await self._with_retry("POST", template_url, headers, body, event_name)
        except TimeoutError as exc:
            raise UpstreamError("handler timed out") from exc
        if 200 <= resp.status < 300:
            store_cookies(ctx.cookies, resp.headers.getall("Set-Cookie", []))
        return resp


async def close_quietly(upstream: Upstream) -> None:
    with contextlib.suppress(Exception):
        await upstream.close()
