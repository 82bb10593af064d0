"""The Web PubSub service as the app uses it: client URLs, sends, groups and their members.

The SDK (and aiohttp, azure-core, azure-identity behind it) is imported on first use, not
at import time, so a cold start that serves only the page does not pay for it. One client
is kept per event loop, so its connection pool is reused across invocations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Literal

from chat.settings import Settings

if TYPE_CHECKING:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

log = logging.getLogger(__name__)


def _azure_error() -> type[Exception]:
    # Looked up only when an exception is being matched: no import on the success path.
    from azure.core.exceptions import AzureError

    return AzureError


class ServiceUnavailable(Exception):
    """The service could not be reached or refused the call; `status` is ours to return."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Errors:
    """`with _ERRORS:` around a service call: the SDK's failures become ServiceUnavailable,
    anything else passes. A plain context manager, not an async generator one: this wraps
    every send, and the generator's machinery cost ~2 us per call."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> Literal[False]:
        if error is None or not isinstance(error, Exception):
            return False  # success, or a cancellation: as it is
        failure = _failure(error)
        if failure is None:
            return False
        raise failure from error


def _failure(error: Exception) -> ServiceUnavailable | None:
    from azure.core.exceptions import AzureError, HttpResponseError

    if isinstance(error, HttpResponseError):
        return ServiceUnavailable(502, f"service answered {error.status_code}")
    if isinstance(error, AzureError | OSError | TimeoutError):
        return ServiceUnavailable(503, f"service unreachable ({type(error).__name__})")
    return None


_ERRORS = _Errors()


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: WebPubSubServiceClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _make_client(self) -> WebPubSubServiceClient:
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        timeout = self.settings.service_timeout_seconds
        options: dict[str, Any] = {
            "connection_timeout": timeout,
            "read_timeout": timeout,
            # One quick retry at most: the upstream caller (the service) retries whole events,
            # and a webhook that hangs on a dead endpoint helps nobody.
            "retry_total": 1,
            "retry_backoff_factor": 0.2,
            "logging_enable": False,
        }
        if self.settings.identity_mode:
            from azure.identity.aio import DefaultAzureCredential

            credential: Any = DefaultAzureCredential()
        else:
            from azure.core.credentials import AzureKeyCredential

            credential = AzureKeyCredential(self.settings.access_keys[0])
        return WebPubSubServiceClient(
            endpoint=self.settings.endpoint, hub=self.settings.hub, credential=credential, **options
        )

    def client(self) -> WebPubSubServiceClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # A client's connection pool belongs to the loop it was made on.
            self._client, self._loop = self._make_client(), loop
        return self._client

    async def close(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = self._loop = None

    async def send_to_group(
        self, group: str, payload: dict[str, Any], filter: str | None = None
    ) -> None:
        with _ERRORS:
            await self.client().send_to_group(
                group, payload, content_type="application/json", filter=filter
            )

    async def send_to_connection(self, connection_id: str, payload: dict[str, Any]) -> None:
        with _ERRORS:
            await self.client().send_to_connection(
                connection_id, payload, content_type="application/json"
            )

    async def send_to_user(
        self, user: str, payload: dict[str, Any], filter: str | None = None
    ) -> None:
        with _ERRORS:
            await self.client().send_to_user(
                user, payload, content_type="application/json", filter=filter
            )

    async def add_to_groups(self, connection_id: str, groups: list[str]) -> None:
        client = self.client()
        with _ERRORS:
            await asyncio.gather(
                *(client.add_connection_to_group(g, connection_id) for g in groups)
            )

    async def remove_from_groups(self, connection_id: str, groups: list[str]) -> None:
        client = self.client()
        with _ERRORS:
            await asyncio.gather(
                *(client.remove_connection_from_group(g, connection_id) for g in groups)
            )

    async def add_user_to_groups(self, user: str, groups: list[str]) -> None:
        """Every open connection of the user joins the groups (one call per group). A user
        with none open is fine: a later connection gets its groups from its connect."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self.client()

        async def add(group: str) -> None:
            with contextlib.suppress(ResourceNotFoundError):
                await client.add_user_to_group(group, user)

        with _ERRORS:
            await asyncio.gather(*(add(g) for g in groups))

    async def remove_user_from_groups(self, user: str, groups: list[str]) -> None:
        """Every connection of the user leaves the groups (one call per group)."""
        client = self.client()
        with _ERRORS:
            await asyncio.gather(*(client.remove_user_from_group(g, user) for g in groups))

    async def close_user_connections(self, user: str, reason: str) -> None:
        """Every connection of the user is closed (their clients see `reason`)."""
        with _ERRORS:
            await self.client().close_user_connections(user, reason=reason)

    async def list_connections(self, group: str, top: int | None = None) -> list[dict[str, Any]]:
        """The group's connections as the service lists them ({"connectionId", "userId"})."""
        with _ERRORS:
            listed = self.client().list_connections(group=group, top=top)
            return [{"connectionId": m.connection_id, "userId": m.user_id} async for m in listed]

    async def client_url(self, user: str) -> str:
        client = self.client()  # first, so the SDK (and AzureError with it) is imported
        try:
            token = await client.get_client_access_token(
                user_id=user, minutes_to_expire=self.settings.token_lifetime_minutes
            )
        except (_azure_error(), OSError, TimeoutError) as error:
            raise ServiceUnavailable(
                503, f"token request failed ({type(error).__name__})"
            ) from error
        return token["url"]
