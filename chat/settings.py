"""The app's settings, read once from the environment (app settings / local.settings.json).

A missing or malformed setting raises SettingsError naming it; the caller logs that once and
answers 503, so a misconfigured app fails closed instead of half-working.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chat import connection_string

HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$")
DEFAULT_HUB = "Sample_ChatApp"
IDP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")  # chat/identity.py's, for ChatAdmins
# The App Service Authentication providers the page may offer (ChatSignInProviders).
SIGN_IN_PROVIDERS = ("aad", "github", "google", "facebook", "x", "twitter", "apple")
# Messages are stored in a table string property, which holds 64 KiB of UTF-16: 16,000
# characters fit even when every one needs a surrogate pair.
MAX_MESSAGE_LENGTH = 16_000
# ChatMaxConnectionsPerUser: enough for tabs on a few devices; at most what one listing of a
# group counts in one call of the service (a page of 200).
DEFAULT_CONNECTIONS_PER_USER = 10
MAX_CONNECTIONS_PER_USER = 200
# ChatEditWindowSeconds: 15 minutes, about Zulip's 10; at most a week (older text is history).
DEFAULT_EDIT_WINDOW_SECONDS = 900
MAX_EDIT_WINDOW_SECONDS = 7 * 24 * 3600


class SettingsError(Exception):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"setting {name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    endpoint: str  # http(s)://host[:port] of the Web PubSub service
    access_keys: tuple[str, ...]  # primary first; empty in identity mode
    hub: str
    token_lifetime_minutes: int = 60
    max_message_length: int = 2000
    rate_limit_messages: int = 20
    rate_limit_window_seconds: float = 10.0
    lazy_auth: bool = False
    extra_origins: frozenset[str] = frozenset()
    service_timeout_seconds: float = 5.0
    sign_in: bool = False  # ChatSignIn=required: only App Service Authentication's users
    sign_in_providers: tuple[str, ...] = ("aad",)
    # Open connections one user may hold; the next connect is refused (chat/events.py).
    max_connections_per_user: int = DEFAULT_CONNECTIONS_PER_USER
    # ChatAdmins: "<idp>:<provider id>" accounts that may moderate every room (chat/roles.py).
    admins: frozenset[str] = frozenset()
    # ChatEditWindowSeconds: how long after sending its author may edit a message (0: never).
    edit_window_seconds: int = DEFAULT_EDIT_WINDOW_SECONDS

    @property
    def identity_mode(self) -> bool:
        """True when the app reaches the service with a managed identity instead of a key."""
        return not self.access_keys

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Hosts accepted in WebHook-Request-Origin: our service's host, plus any configured."""
        return frozenset({(urlsplit(self.endpoint).hostname or "").lower()}) | self.extra_origins

    @property
    def client_url(self) -> str:
        """The service's WebSocket endpoint for this hub, as the SDK builds it (lower-cased)."""
        base = self.endpoint.lower()
        base = "ws" + base[4:] if base.startswith("http") else base
        return f"{base}/client/hubs/{self.hub}"


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be a whole number, got {raw[:20]!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be from {low} to {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise SettingsError(name, f"must be true or false, got {raw[:20]!r}")


def _sign_in(env: Mapping[str, str]) -> tuple[bool, tuple[str, ...]]:
    mode = env.get("ChatSignIn", "").strip().lower()
    if mode not in ("", "off", "required"):
        raise SettingsError("ChatSignIn", f"must be off or required, got {mode[:20]!r}")
    raw = env.get("ChatSignInProviders", "").strip().lower() or "aad"
    providers = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    unknown = [p for p in providers if p not in SIGN_IN_PROVIDERS]
    if unknown or not providers:
        raise SettingsError(
            "ChatSignInProviders",
            f"must list providers from {', '.join(SIGN_IN_PROVIDERS)}, got {raw[:40]!r}",
        )
    return mode == "required", providers


def _admins(env: Mapping[str, str]) -> frozenset[str]:
    """ChatAdmins: comma-separated `<idp>:<id>` (as /.auth/me shows them); never names."""
    accounts = []
    for entry in env.get("ChatAdmins", "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        idp, _, provider_id = entry.partition(":")
        if not IDP_PATTERN.match(idp.lower()) or not provider_id.strip():
            raise SettingsError("ChatAdmins", f"must list <idp>:<id> entries, got {entry[:40]!r}")
        accounts.append(f"{idp.lower()}:{provider_id.strip()}")
    return frozenset(accounts)


def _connection(env: Mapping[str, str], name: str) -> connection_string.ConnectionString:
    try:
        return connection_string.parse(env[name])
    except connection_string.ConnectionStringError as error:
        raise SettingsError(name, f"is malformed: {error}") from None


def load(env: Mapping[str, str]) -> Settings:
    """Read every setting; raise SettingsError for the first one that is missing or malformed."""
    primary = env.get("WebPubSubConnectionString", "").strip()
    secondary = env.get("WebPubSubConnectionStringSecondary", "").strip()
    endpoint = env.get("WebPubSubEndpoint", "").strip().rstrip("/")
    if primary:
        first = _connection(env, "WebPubSubConnectionString")
        endpoint, keys = first.endpoint, [first.access_key]
        if secondary:
            second = _connection(env, "WebPubSubConnectionStringSecondary")
            if second.endpoint.lower() != first.endpoint.lower():
                raise SettingsError(
                    "WebPubSubConnectionStringSecondary",
                    "must point at the same endpoint as WebPubSubConnectionString",
                )
            keys.append(second.access_key)
    elif endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError("WebPubSubEndpoint", "must be an http:// or https:// URL")
        keys = []
    else:
        raise SettingsError(
            "WebPubSubConnectionString",
            "is missing (or set WebPubSubEndpoint to use a managed identity)",
        )

    hub = env.get("WebPubSubHub", "").strip() or DEFAULT_HUB
    if not HUB_PATTERN.match(hub):
        raise SettingsError("WebPubSubHub", "must start with a letter and hold letters, digits, _")

    sign_in, providers = _sign_in(env)
    if sign_in and env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() != "true":
        # Only the platform sets WEBSITE_AUTH_ENABLED, and only when it also strips callers'
        # own principal headers: without it anyone could send X-MS-CLIENT-PRINCIPAL-NAME.
        raise SettingsError(
            "ChatSignIn",
            "is required, but App Service Authentication is off (WEBSITE_AUTH_ENABLED is not "
            "True), so the principal headers could be forged",
        )
    lazy_auth = _bool(env, "ChatLazyAuth")
    if sign_in and lazy_auth:
        # Lazy auth lets anyone connect under any name: it cannot coexist with real sign-in.
        raise SettingsError("ChatLazyAuth", "must be false when ChatSignIn is required")
    origins = env.get("ChatAllowedOrigins", "")
    window = _int(env, "ChatRateLimitWindowSeconds", 10, 1, 3600)
    timeout = _int(env, "ChatServiceTimeoutSeconds", 5, 1, 60)
    return Settings(
        endpoint=endpoint,
        access_keys=tuple(keys),
        hub=hub,
        token_lifetime_minutes=_int(env, "ChatTokenLifetimeMinutes", 60, 1, 24 * 60),
        max_message_length=_int(env, "ChatMaxMessageLength", 2000, 1, MAX_MESSAGE_LENGTH),
        rate_limit_messages=_int(env, "ChatRateLimitMessages", 20, 1, 10_000),
        rate_limit_window_seconds=float(window),
        lazy_auth=lazy_auth,
        extra_origins=frozenset(o.strip().lower() for o in origins.split(",") if o.strip()),
        service_timeout_seconds=float(timeout),
        sign_in=sign_in,
        sign_in_providers=providers,
        max_connections_per_user=_int(
            env,
            "ChatMaxConnectionsPerUser",
            DEFAULT_CONNECTIONS_PER_USER,
            1,
            MAX_CONNECTIONS_PER_USER,
        ),
        admins=_admins(env),
        edit_window_seconds=_int(
            env, "ChatEditWindowSeconds", DEFAULT_EDIT_WINDOW_SECONDS, 0, MAX_EDIT_WINDOW_SECONDS
        ),
    )
