"""Where the chat keeps its history and shared state: Azure Table Storage settings (pure).

Follows the Functions convention for connections: `ChatStorage` if set, else the host's own
`AzureWebJobsStorage`. Each is either a connection string (`UseDevelopmentStorage=true` means
Azurite on 127.0.0.1:10002) or identity-based: `<NAME>__tableServiceUri` (or, for the host
storage, `__accountName`) plus an optional `__clientId` for a user-assigned identity.
A missing or malformed value raises SettingsError naming the setting; the app answers 503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chat.settings import SettingsError

MESSAGES_TABLE = "chatmessages"
STATE_TABLE = "chatstate"
# The storage emulator's well-known development account, published in the Azurite README:
# not a secret, and accepted by nothing but an emulator.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_TABLE_ENDPOINT = f"http://127.0.0.1:10002/{DEV_ACCOUNT}"
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


@dataclass(frozen=True)
class StorageSettings:
    setting: str  # the setting it came from, for log lines
    table_endpoint: str  # https://<account>.table.core.windows.net or an emulator URL
    account_name: str | None = None  # with account_key: shared key
    account_key: str | None = field(default=None, repr=False)
    sas: str | None = field(default=None, repr=False)
    client_id: str | None = None  # identity mode: a user-assigned identity

    @property
    def identity_mode(self) -> bool:
        return self.account_key is None and self.sas is None


def _pairs(name: str, raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SettingsError(name, "is malformed: expected Key=Value pairs separated by ';'")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _endpoint(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(name, "is malformed: the table endpoint must be an http(s) URL")
    return raw.rstrip("/")


def parse_connection_string(name: str, raw: str) -> StorageSettings:
    pairs = _pairs(name, raw)
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return StorageSettings(name, DEV_TABLE_ENDPOINT, DEV_ACCOUNT, DEV_KEY)
    account = pairs.get("accountname", "")
    key = pairs.get("accountkey") or None
    sas = pairs.get("sharedaccesssignature") or None
    if "tableendpoint" in pairs:
        endpoint = _endpoint(name, pairs["tableendpoint"])
    elif account:
        protocol = pairs.get("defaultendpointsprotocol", "https").lower()
        if protocol not in ("http", "https"):
            raise SettingsError(name, "is malformed: DefaultEndpointsProtocol must be https")
        suffix = pairs.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.table.{suffix}"
    else:
        raise SettingsError(name, "is malformed: it names no AccountName or TableEndpoint")
    if key is not None:
        if not account:
            raise SettingsError(name, "is malformed: AccountKey without AccountName")
        return StorageSettings(name, endpoint, account, key)
    if sas is not None:
        return StorageSettings(name, endpoint, account or None, sas=sas.lstrip("?"))
    raise SettingsError(name, "is malformed: it holds no AccountKey or SharedAccessSignature")


def _identity(env: Mapping[str, str], name: str) -> StorageSettings | None:
    uri = env.get(f"{name}__tableServiceUri", "").strip()
    account = env.get(f"{name}__accountName", "").strip()
    client_id = env.get(f"{name}__clientId", "").strip() or None
    if uri:
        endpoint = _endpoint(f"{name}__tableServiceUri", uri)
        if urlsplit(endpoint).scheme != "https":
            raise SettingsError(f"{name}__tableServiceUri", "must be an https:// URL")
        return StorageSettings(f"{name}__tableServiceUri", endpoint, client_id=client_id)
    if account:
        if not _ACCOUNT.fullmatch(account):
            raise SettingsError(f"{name}__accountName", "is not a storage account name")
        endpoint = f"https://{account}.table.core.windows.net"
        return StorageSettings(f"{name}__accountName", endpoint, client_id=client_id)
    return None


def load(env: Mapping[str, str]) -> StorageSettings:
    """ChatStorage first, then AzureWebJobsStorage; SettingsError when neither is usable."""
    for name in ("ChatStorage", "AzureWebJobsStorage"):
        raw = env.get(name, "").strip()
        if raw:
            return parse_connection_string(name, raw)
        identity = _identity(env, name)
        if identity is not None:
            return identity
    raise SettingsError(
        "ChatStorage",
        "is missing (set it or AzureWebJobsStorage to a connection string, "
        "or ChatStorage__tableServiceUri for a managed identity)",
    )
