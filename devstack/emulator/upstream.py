"""Upstream event handler calls: the HTTP I/O around cloudevents.py.

Abuse-protection validation (OPTIONS, GET when OPTIONS is 404, cached), POSTs with
retry on 408/5xx after 1, 3, 5 s reusing ce-id and the request id, and an overall
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from .cloudevents import (
    EventContext,
    UpstreamError,
    UpstreamResponse,
    event_headers,
    retryable_status,
    store_cookies,
)
from .config import EmulatorConfig
from .eventgates import Gate
from .logsafe import redact_url

log = logging.getLogger("devstack.emulator.upstream")

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
VALIDATION_TRUST_SECONDS = 60.0


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
        self._closed = False

    @property
    def origin(self) -> str:
        return self.config.advertised_host

    @property
    def keys(self) -> list[str]:
        return [self.config.access_key]

    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise UpstreamError("the emulator is stopping")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
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
        gate: Gate | None = None,
    ) -> UpstreamResponse:
        """Attempts with pauses between them; each attempt holds a slot of `gate`, if any,
        and the pauses hold none (see eventgates.py)."""
        delays = list(self.config.retry_delays)
        while True:
            try:
                async with gate or contextlib.nullcontext():
                    async with asyncio.timeout(attempt_timeout):
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
        gate: Gate | None = None,
    ) -> UpstreamResponse:
        """POST one event (validating the handler first); raise UpstreamError on failure.
        `gate` bounds how many such calls are in flight at once (admission)."""
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
                resp = await self._with_retry(
                    "POST", template_url, headers, body, event_name, gate=gate
                )
        except TimeoutError as exc:
            raise UpstreamError("handler timed out") from exc
        if 200 <= resp.status < 300:
            store_cookies(ctx.cookies, resp.headers.getall("Set-Cookie", []))
        return resp


async def close_quietly(upstream: Upstream) -> None:
    with contextlib.suppress(Exception):
        await upstream.close()
