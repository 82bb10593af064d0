"""Settings: table-driven, each bad value names its setting."""

from __future__ import annotations

import logging

import pytest

from chat.settings import SettingsError, load

CS = "Endpoint=https://chat.webpubsub.azure.com;AccessKey=key-one;Version=1.0;"
CS2 = "Endpoint=https://chat.webpubsub.azure.com;AccessKey=key-two;Version=1.0;"


def test_defaults() -> None:
    s = load({"WebPubSubConnectionString": CS})
    assert s.endpoint == "https://chat.webpubsub.azure.com"
    assert s.access_keys == ("key-one",)
    assert s.hub == "Sample_ChatApp"
    assert (s.token_lifetime_minutes, s.max_message_length) == (60, 2000)
    assert (s.rate_limit_messages, s.rate_limit_window_seconds) == (20, 10.0)
    assert s.lazy_auth is False
    assert s.max_connections_per_user == 10
    assert (
        load(
            {"WebPubSubConnectionString": CS, "ChatMaxConnectionsPerUser": "3"}
        ).max_connections_per_user
        == 3
    )
    assert s.allowed_origins == {"chat.webpubsub.azure.com"}
    assert s.client_url == "wss://chat.webpubsub.azure.com/client/hubs/Sample_ChatApp"
    assert not s.identity_mode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"WebPubSubConnectionString": "Endpoint=http://Localhost;Port=8080;AccessKey=k;"},
            ("http://Localhost:8080", "ws://localhost:8080/client/hubs/Sample_ChatApp"),
        ),
        (
            {"WebPubSubConnectionString": "endpoint=http://h/;accesskey=k"},
            ("http://h", "ws://h/client/hubs/Sample_ChatApp"),
        ),
        (
            {"WebPubSubConnectionString": CS, "WebPubSubHub": "Other"},
            (
                "https://chat.webpubsub.azure.com",
                "wss://chat.webpubsub.azure.com/client/hubs/Other",
            ),
        ),
    ],
)
def test_endpoint_forms(env: dict, expected: tuple[str, str]) -> None:
    s = load(env)
    assert (s.endpoint, s.client_url) == expected


def test_secondary_key_and_extra_origins() -> None:
    s = load(
        {
            "WebPubSubConnectionString": CS,
            "WebPubSubConnectionStringSecondary": CS2,
            "ChatAllowedOrigins": " Other.example , ",
            "ChatLazyAuth": "TRUE",
        }
    )
    assert s.access_keys == ("key-one", "key-two")
    assert s.allowed_origins == {"chat.webpubsub.azure.com", "other.example"}
    assert s.lazy_auth


def test_identity_mode() -> None:
    s = load({"WebPubSubEndpoint": "https://chat.webpubsub.azure.com/"})
    assert s.identity_mode and s.access_keys == ()
    assert s.endpoint == "https://chat.webpubsub.azure.com"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "WebPubSubConnectionString"),
        ({"WebPubSubConnectionString": "   "}, "WebPubSubConnectionString"),
        ({"WebPubSubConnectionString": "Endpoint=http://h"}, "WebPubSubConnectionString"),
        ({"WebPubSubConnectionString": "AccessKey=k"}, "WebPubSubConnectionString"),
        ({"WebPubSubConnectionString": "garbage"}, "WebPubSubConnectionString"),
        (
            {"WebPubSubConnectionString": "Endpoint=ftp://h;AccessKey=k"},
            "WebPubSubConnectionString",
        ),
        (
            {"WebPubSubConnectionString": "Endpoint=http://h;Port=99999;AccessKey=k"},
            "WebPubSubConnectionString",
        ),
        (
            {
                "WebPubSubConnectionString": CS,
                "WebPubSubConnectionStringSecondary": "Endpoint=https://other;AccessKey=x",
            },
            "WebPubSubConnectionStringSecondary",
        ),
        (
            {"WebPubSubConnectionString": CS, "WebPubSubConnectionStringSecondary": "nonsense"},
            "WebPubSubConnectionStringSecondary",
        ),
        ({"WebPubSubEndpoint": "chat.webpubsub.azure.com"}, "WebPubSubEndpoint"),
        ({"WebPubSubConnectionString": CS, "WebPubSubHub": "1abc"}, "WebPubSubHub"),
        ({"WebPubSubConnectionString": CS, "WebPubSubHub": "a b"}, "WebPubSubHub"),
        (
            {"WebPubSubConnectionString": CS, "ChatTokenLifetimeMinutes": "ten"},
            "ChatTokenLifetimeMinutes",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatTokenLifetimeMinutes": "0"},
            "ChatTokenLifetimeMinutes",
        ),
        ({"WebPubSubConnectionString": CS, "ChatMaxMessageLength": "-5"}, "ChatMaxMessageLength"),
        # the history table's string property holds 64 KiB of UTF-16
        (
            {"WebPubSubConnectionString": CS, "ChatMaxMessageLength": "16001"},
            "ChatMaxMessageLength",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatRateLimitMessages": "1.5"},
            "ChatRateLimitMessages",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatRateLimitWindowSeconds": "0"},
            "ChatRateLimitWindowSeconds",
        ),
        ({"WebPubSubConnectionString": CS, "ChatLazyAuth": "maybe"}, "ChatLazyAuth"),
        (
            {"WebPubSubConnectionString": CS, "ChatServiceTimeoutSeconds": "600"},
            "ChatServiceTimeoutSeconds",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatMaxConnectionsPerUser": "0"},
            "ChatMaxConnectionsPerUser",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatMaxConnectionsPerUser": "201"},
            "ChatMaxConnectionsPerUser",
        ),
        (
            {"WebPubSubConnectionString": CS, "ChatMaxConnectionsPerUser": "ten"},
            "ChatMaxConnectionsPerUser",
        ),
    ],
)
def test_bad_settings_name_the_setting(env: dict, name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(env)
    assert caught.value.name == name
    assert name in str(caught.value)


def test_errors_never_echo_the_key() -> None:
    with pytest.raises(SettingsError) as caught:
        load({"WebPubSubConnectionString": "Endpoint=ftp://h;AccessKey=supersecretvalue"})
    assert "supersecretvalue" not in str(caught.value)


PASTED_KEY = "Zm9vYmFyc2VjcmV0a2V5MDEyMzQ1Njc4OWFiY2RlZgQ"  # no "=": base64 without padding
LEAKY = [
    # A key pasted as its own segment, or with its "AccessKey=" lost.
    f"Endpoint=https://chat.webpubsub.azure.com;{PASTED_KEY};Version=1.0;",
    f"{PASTED_KEY}",
    f"Endpoint=https://chat.webpubsub.azure.com;AccessKey{PASTED_KEY}",
    # A key in a field that is then found malformed.
    f"Endpoint=https://chat.webpubsub.azure.com;AccessKey=k;Port={PASTED_KEY}",
    f"Endpoint={PASTED_KEY};AccessKey=k",
    f"Endpoint=https://{PASTED_KEY}:{PASTED_KEY};AccessKey=k",
]


def fragments(secret: str, size: int = 6) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


@pytest.mark.parametrize("value", LEAKY)
@pytest.mark.parametrize(
    "setting", ["WebPubSubConnectionString", "WebPubSubConnectionStringSecondary"]
)
async def test_no_fragment_of_a_connection_string_reaches_the_log(
    configure, caplog: pytest.LogCaptureFixture, value: str, setting: str
) -> None:
    import azure.functions as func

    import function_app

    good = "Endpoint=https://chat.webpubsub.azure.com;AccessKey=k;Version=1.0;"
    configure(**{"WebPubSubConnectionString": good, setting: value})
    caplog.set_level(logging.DEBUG)
    request = func.HttpRequest("GET", "http://h/api/negotiate", params={"id": "a"}, body=b"")
    response = await function_app.negotiate(request)
    assert response.status_code == 503
    assert setting in caplog.text  # the error names the setting...
    shown = caplog.text + response.get_body().decode()
    leaked = {f for f in fragments(PASTED_KEY) if f in shown}
    assert not leaked  # ...and echoes no part of its value
