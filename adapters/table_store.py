"""Azure Table Storage (Azurite locally) through azure-data-tables' async client.

Three kinds of entity, in two tables:
- `chatmessages`: one per chat message (PartitionKey = room; see chat.history), plus, for an
  event whose ce-time could not be used, an id marker row beside it;
- `chatstate`, PartitionKey "rate|<user key>": a user's token bucket, shared by all their
  connections on every instance, updated with ETag concurrency; connections lease a few
  tokens at a time from it (chat.token_lease), so it is written about once per lease;
- `chatstate`, PartitionKey "presence|<room>", RowKey <user key>: what the room was last told
  about that user (chat.presence), also updated with ETag concurrency.
User ids may hold characters keys cannot ('/', '#', '?'), so keys use a hash of the id.

The tables are created on first use by each instance (one call, 409 ignored), so a fresh
Azurite or storage account works with no set-up step; the Bicep also declares them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chat import history, presence, token_lease
from chat.plan import Found, LeaseTokens
from chat.storage_settings import MESSAGES_TABLE, STATE_TABLE, StorageSettings

if TYPE_CHECKING:
    from azure.data.tables.aio import TableClient, TableServiceClient

log = logging.getLogger(__name__)
T = TypeVar("T")
# Bounded retries of an ETag race: each retry re-reads, so a loser sees the winner's write.
# Losing them all is an outcome (None) the caller's decision answers (chat.token_lease).
MAX_CONFLICT_RETRIES = 5


class StoreUnavailable(Exception):
    """The store could not be reached or refused the call; the reason is safe to log."""


def user_key(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:32]


# The SDK's exceptions, looked up when one is being matched: the message path's insert (and
# every store call) would otherwise run its import statements each time, ~3 us together.
def _failures() -> tuple[type[Exception], ...]:
    from azure.core.exceptions import AzureError

    return (AzureError, OSError, TimeoutError)


def _already_there(error: Exception) -> bool:
    """A message's insert answered 409: its row (or its id marker) is there already."""
    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import TableTransactionError

    if isinstance(error, ResourceExistsError):
        return True
    return isinstance(error, TableTransactionError) and error.status_code == 409


class TableStore:
    def __init__(self, settings: StorageSettings, timeout: float = 5.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._service: TableServiceClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Task[None] | None = None
        # One client per table, made once: get_table_client builds a pipeline each time
        # (about 0.2 ms of CPU), which every message and page would otherwise pay.
        self._tables: dict[str, TableClient] = {}

    # --- clients ---------------------------------------------------------------------------
    def _make_service(self) -> TableServiceClient:
        from azure.data.tables.aio import TableServiceClient

        options: dict[str, Any] = {
            "connection_timeout": self.timeout,
            "read_timeout": self.timeout,
            # One quick retry: the service retries whole events, and a refusal is better
            # than a webhook that hangs while the store is down.
            "retry_total": 1,
            "retry_backoff_factor": 0.2,
            "logging_enable": False,
        }
        s = self.settings
        credential: Any
        if s.account_key is not None:
            from azure.core.credentials import AzureNamedKeyCredential

            credential = AzureNamedKeyCredential(s.account_name or "", s.account_key)
        elif s.sas is not None:
            from azure.core.credentials import AzureSasCredential

            credential = AzureSasCredential(s.sas)
        else:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=s.client_id)
        return TableServiceClient(endpoint=s.table_endpoint, credential=credential, **options)

    async def table(self, name: str) -> TableClient:
        loop = asyncio.get_running_loop()
        if self._service is None or self._loop is not loop:
            # A client's connection pool belongs to the loop it was made on.
            self._service, self._loop = self._make_service(), loop
            self._ready = None
            self._tables = {}
        table = self._tables.get(name)
        if table is not None:
            return table  # made after the tables were there
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._create_tables())
        try:
            await asyncio.shield(self._ready)
        except BaseException:
            self._ready = None  # try again on the next call
            raise
        assert self._service is not None
        table = self._tables[name] = self._service.get_table_client(name)
        return table

    async def _create_tables(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        assert self._service is not None
        for name in (MESSAGES_TABLE, STATE_TABLE):
            try:
                await self._service.create_table(name)
            except ResourceExistsError:
                pass
            else:
                log.info("Created table %s", name)

    async def close(self) -> None:
        if self._service is not None and self._loop is asyncio.get_running_loop():
            await self._service.close()
        self._service = self._loop = self._ready = None
        self._tables = {}

    async def call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one store operation; every failure but the expected ones is StoreUnavailable.

        Public, with `table`, for the adapters of other concepts (conversations, moderation,
        the room-name migration): one client per table, and one place failures are mapped."""
        try:
            return await operation()
        except Exception as error:
            if not isinstance(error, _failures()):
                raise
            status = getattr(error, "status_code", None)
            raise StoreUnavailable(
                f"{what}: {type(error).__name__} {status or ''}".strip()
            ) from error

    # --- history ---------------------------------------------------------------------------
    async def add_message(
        self, entity: dict[str, Any], marker: dict[str, Any] | None = None
    ) -> bool:
        """Store a message; False when it was already stored (a retried event)."""
        return await self.insert_message(entity, marker) is not None

    async def insert_message(
        self, entity: dict[str, Any], marker: dict[str, Any] | None = None
    ) -> str | None:
        """Store a message: its ETag, or None when it was already stored (a retried event).

        Its row key repeats on a retry (chat.history), so one insert is idempotent by itself.
        With a `marker` (the event's own time was unusable, so the key came from this
        handler's clock), the message and its id marker are created in one transaction and
        the marker is what answers 409 to a retry.
        """

        async def create() -> str | None:
            table = await self.table(MESSAGES_TABLE)
            try:
                if marker is None:
                    written = await table.create_entity(entity)
                else:
                    both = await table.submit_transaction([("create", marker), ("create", entity)])
                    written = both[1]
            except Exception as error:
                if _already_there(error):
                    return None
                raise
            return str(written.get("etag") or "")

        return await self.call("store message", create)

    async def delete_message(
        self, entity: dict[str, Any], marker: dict[str, Any] | None = None
    ) -> None:
        async def delete() -> None:
            table = await self.table(MESSAGES_TABLE)
            if marker is None:
                await table.delete_entity(entity["PartitionKey"], entity["RowKey"])
            else:
                await table.submit_transaction([("delete", marker), ("delete", entity)])

        await self.call("delete message", delete)

    async def find_message(
        self, room: str, message_id: str, newer_than_ms: int | None = None
    ) -> Found | None:
        """The room's message `message_id` and its ETag; None when there is none.

        Its key starts with the time it was sent, which the caller does not know: a range
        query of the room's partition filtered on `id`, newest first, stops at the first hit
        (an index row per message would make this one point read, but would double every
        message's write for the few that are ever acted on). An edit's window bounds the range;
        a delete or reaction on an old message reads further back, at most FIND_PAGES pages.
        """

        async def find() -> Found | None:
            table = await self.table(MESSAGES_TABLE)
            query, parameters = history.find_filter(room, message_id, newer_than_ms)
            pages = table.query_entities(query, parameters=parameters, results_per_page=1).by_page()
            read = 0
            async for chunk in pages:
                async for entity in chunk:
                    return Found(dict(entity), str(entity.metadata["etag"]))
                read += 1
                if read >= history.FIND_PAGES:
                    log.warning("Message %s of %s not found in %d pages", message_id, room, read)
                    return None
            return None

        return await self.call("find message", find)

    async def find_replies(self, room: str, message_id: str, below: str) -> list[Found]:
        """The replies to a message, newest first: rows newer than it (keys below its own)
        whose `replyToId` is its id; at most FIND_PAGES pages of the partition are read."""

        async def find() -> list[Found]:
            table = await self.table(MESSAGES_TABLE)
            query, parameters = history.replies_filter(room, message_id, below)
            pages = table.query_entities(query, parameters=parameters).by_page()
            found: list[Found] = []
            read = 0
            async for chunk in pages:
                async for entity in chunk:
                    found.append(Found(dict(entity), str(entity.metadata["etag"])))
                read += 1
                if read >= history.FIND_PAGES:
                    log.warning("Replies to %s of %s: more than %d pages", message_id, room, read)
                    break
            return found

        return await self.call("find replies", find)

    async def update_message(self, entity: dict[str, Any], etag: str) -> bool:
        """Replace the row if it is still as read; False when another writer came first."""
        return await self.replace_message(entity, etag) is not None

    async def replace_message(self, entity: dict[str, Any], etag: str) -> str | None:
        """Replace the row if it is still as read: its new ETag, or None when another writer
        came first (or deleted it)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        async def update() -> str | None:
            table = await self.table(MESSAGES_TABLE)
            try:
                written = await table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return None
            return str(written.get("etag") or "")

        return await self.call("update message", update)

    async def message_at(self, partition: str, row_key: str) -> dict[str, Any] | None:
        """One message row by its keys (a point read); None when there is none."""
        from azure.core.exceptions import ResourceNotFoundError

        async def read() -> dict[str, Any] | None:
            table = await self.table(MESSAGES_TABLE)
            try:
                return dict(await table.get_entity(partition, row_key))
            except ResourceNotFoundError:
                return None

        return await self.call("read message", read)

    async def page(self, page: history.Page) -> list[dict[str, Any]]:
        """The rows a page of history needs (history.reads: usually one range query),
        filtered to those it may show; history.page_body puts them in order."""

        async def fetch(table: TableClient, read: history.Read) -> list[dict[str, Any]]:
            query, parameters = history.read_filter(page.room, read)
            pages = table.query_entities(
                query,
                parameters=parameters,
                results_per_page=min(read.top or history.WHOLE, history.WHOLE),
                select=list(history.SELECT),
            ).by_page()
            rows: list[dict[str, Any]] = []
            async for chunk in pages:
                async for entity in chunk:
                    rows.append(
                        dict(entity)
                        | {"PartitionKey": page.room, "RowKey": entity.get("RowKey", "")}
                    )
                if read.top is not None and len(rows) >= read.top:
                    break
            return rows if read.top is None else rows[: read.top]

        async def read() -> list[dict[str, Any]]:
            table = await self.table(MESSAGES_TABLE)
            plan = history.reads(page)
            rows: list[dict[str, Any]] = []
            step = next(plan)
            while True:
                got = await fetch(table, step)
                rows += got
                try:
                    step = plan.send(got)
                except StopIteration:
                    return history.visible(page, rows)

        return await self.call("read history", read)

    # --- per-user limits ----------------------------------------------------------------------
    async def lease_tokens(self, request: LeaseTokens) -> tuple[int, list[Any] | None] | None:
        """A lease from the user's bucket `request.bucket` (chat.token_lease: how many, and the
        refill rule), shared by all connections and instances: (tokens leased, possibly 0,
        the value to cache next), or None when every ETag race was lost.

        `request.cached` is what an earlier call returned for this connection ([tokens,
        updated, etag], kept in its connection state): while no other connection of the user
        has leased since, the update goes straight out with that ETag, one round trip instead
        of a read and a write.
        """
        from azure.core.exceptions import ResourceNotFoundError

        key = f"rate|{user_key(request.user)}"

        async def take() -> tuple[int, list[Any] | None] | None:
            table = await self.table(STATE_TABLE)
            if request.cached is not None:
                cached, cached_etag = request.cached[:2], request.cached[2]
                leased = await self._write_lease(table, key, request, cached, cached_etag)
                if leased is not None:
                    return leased  # else another connection leased meanwhile: read below
            for _ in range(MAX_CONFLICT_RETRIES):
                try:
                    entity = await table.get_entity(key, request.bucket)
                except ResourceNotFoundError:
                    entity = None
                stored = (entity["tokens"], entity["updated"]) if entity is not None else None
                etag = entity.metadata["etag"] if entity is not None else None
                leased = await self._write_lease(table, key, request, stored, etag)
                if leased is not None:
                    return leased  # else another connection leased meanwhile: read again
            return None

        return await self.call("rate limit", take)

    @staticmethod
    async def _write_lease(
        table: TableClient,
        key: str,
        request: LeaseTokens,
        stored: tuple[float, float] | None,
        etag: str | None,
    ) -> tuple[int, list[Any] | None] | None:
        """Write the bucket after the lease, if it is still as read (None: it was not)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        rule = (request.capacity, request.window, request.now, request.most)
        tokens, left = token_lease.take_lease(stored, *rule)
        fields: dict[str, Any] = {"PartitionKey": key, "RowKey": request.bucket}
        fields |= {"tokens": left.tokens, "updated": left.updated}
        try:
            if etag is None:
                written = await table.create_entity(fields)
            else:
                match = MatchConditions.IfNotModified
                written = await table.update_entity(fields, etag=etag, match_condition=match)
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
            return None
        etag = written.get("etag") if isinstance(written, dict) else None
        return tokens, [left.tokens, left.updated, etag] if etag else None

    # --- presence ----------------------------------------------------------------------------
    async def announced(self, room: str, user: str) -> tuple[presence.Announced | None, str | None]:
        """What the room was last told about the user, and the record's ETag."""
        from azure.core.exceptions import ResourceNotFoundError

        async def read() -> tuple[presence.Announced | None, str | None]:
            table = await self.table(STATE_TABLE)
            try:
                entity = await table.get_entity(f"presence|{room}", user_key(user))
            except ResourceNotFoundError:
                return None, None
            record = presence.Announced(
                bool(entity["present"]), float(entity["tokens"]), float(entity["updated"])
            )
            return record, entity.metadata["etag"]

        return await self.call("read presence", read)

    async def save_announced(
        self, room: str, user: str, record: presence.Announced, etag: str | None
    ) -> bool:
        """Store the new record unless another instance changed it first (then False)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        fields = {
            "PartitionKey": f"presence|{room}",
            "RowKey": user_key(user),
            "user": user,
            "present": record.present,
            "tokens": record.tokens,
            "updated": record.updated,
        }

        async def save() -> bool:
            table = await self.table(STATE_TABLE)
            try:
                if etag is None:
                    await table.create_entity(fields)
                else:
                    await table.update_entity(
                        fields, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
            except (ResourceModifiedError, ResourceExistsError):
                return False
            return True

        return await self.call("save presence", save)

    # --- the presence sweep's rows (adapters/presence_marks.py says what they hold) -----------
    async def upsert_state(self, fields: dict[str, Any], what: str) -> None:
        async def upsert() -> None:
            table = await self.table(STATE_TABLE)
            await table.upsert_entity(fields)

        await self.call(what, upsert)

    async def read_state(self, partition: str, row: str, what: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        async def read() -> dict[str, Any] | None:
            table = await self.table(STATE_TABLE)
            try:
                return dict(await table.get_entity(partition, row))
            except ResourceNotFoundError:
                return None

        return await self.call(what, read)

    async def query_state(
        self,
        what: str,
        query: str,
        parameters: dict[str, Any],
        select: list[str],
        limit: int,
        continuation: object = None,
        one_page: bool = False,
    ) -> tuple[list[dict[str, Any]], object]:
        """Up to `limit` rows (each with its "etag"), and where the query stopped (pass it
        back as `continuation` to go on). `one_page`: a single round trip, possibly empty."""

        async def read() -> tuple[list[dict[str, Any]], object]:
            table = await self.table(STATE_TABLE)
            # The SDK's token is a dict of next keys, though its stubs say str: kept opaque.
            pages: Any = table.query_entities(
                query, parameters=parameters, results_per_page=limit, select=select
            ).by_page(continuation_token=continuation)  # type: ignore[arg-type]
            rows: list[dict[str, Any]] = []
            async for page in pages:
                async for entity in page:
                    rows.append(dict(entity) | {"etag": entity.metadata.get("etag") or ""})
                if one_page or len(rows) >= limit:
                    break
            return rows[:limit], pages.continuation_token

        return await self.call(what, read)

    async def delete_state_if(self, partition: str, row: str, etag: str, what: str) -> bool:
        """Delete the row unless it was written since `etag` (then False; gone already: True)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        async def delete() -> bool:
            table = await self.table(STATE_TABLE)
            try:
                await table.delete_entity(
                    partition, row, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                return False
            except ResourceNotFoundError:
                return True
            return True

        return await self.call(what, delete)

    async def update_state_if(self, fields: dict[str, Any], etag: str, what: str) -> bool:
        """Update the row unless it was written (or deleted) since `etag` (then False)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        async def update() -> bool:
            table = await self.table(STATE_TABLE)
            try:
                await table.update_entity(
                    fields, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
            return True

        return await self.call(what, update)

    # --- moderation's rows (adapters/moderation_store.py says what they hold) -----------------
    async def create_state(self, fields: dict[str, Any], what: str) -> bool:
        """Insert the row; False when it is there already (nothing written)."""
        from azure.core.exceptions import ResourceExistsError

        async def create() -> bool:
            table = await self.table(STATE_TABLE)
            try:
                await table.create_entity(fields)
            except ResourceExistsError:
                return False
            return True

        return await self.call(what, create)

    async def delete_state(self, partition: str, row: str, what: str) -> None:
        """Delete the row; one that is gone already is fine."""
        from azure.core.exceptions import ResourceNotFoundError

        async def delete() -> None:
            table = await self.table(STATE_TABLE)
            with contextlib.suppress(ResourceNotFoundError):
                await table.delete_entity(partition, row)

        await self.call(what, delete)
