"""Configuration: appsettings.json + environment in the official emulator's format."""

from __future__ import annotations

import json

import pytest

from devstack.emulator.config import (
    DEFAULT_ACCESS_KEY,
    ConfigError,
    expand_url_template,
    load_config,
    user_event_matches,
    validate_access_key,
)


def test_defaults() -> None:
    config = load_config()
    assert config.access_key == DEFAULT_ACCESS_KEY
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.retry_delays == (1.0, 3.0, 5.0)
    assert config.upstream_timeout == 100.0
    assert config.recovery_window == 30.0
    assert config.hubs == {}
    assert config.hub("any").anonymous_connect is False


def test_json_and_env_merge_env_wins(tmp_path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text(
        json.dumps(
            {
                "WebPubSub": {
                    "AccessKey": "K" * 40,
                    "Hubs": {
                        "Sample_ChatApp": {
                            "EventHandlers": [
                                {
                                    "UrlTemplate": "http://localhost:7071/api/eventhandler",
                                    "SystemEvents": ["connect", "connected"],
                                    "EventPattern": "*",
                                }
                            ]
                        }
                    },
                }
            }
        )
    )
    env = {
        "WEBPUBSUB__HUBS__SAMPLE_CHATAPP__EVENTHANDLERS__0__SYSTEMEVENTS__2": "disconnected",
        "WebPubSub__Hubs__Sample_ChatApp__EventHandlers__0__SystemEvents__0": "connect",
        "WebPubSub__Hubs__Sample_ChatApp__AnonymousConnectPolicy": "allow",
        "WebPubSub__Hubs__other__EventHandlers__0__UrlTemplate": "http://h/{hub}/{event}",
        "UNRELATED": "x",
    }
    config = load_config(config_path=path, environ=env, port=9000)
    assert config.access_key == "K" * 40
    assert config.port == 9000
    chat = config.hub("sample_chatapp")
    assert chat.name == "Sample_ChatApp"
    assert chat.anonymous_connect is True
    (handler,) = chat.event_handlers
    assert handler.system_events == {"connect", "connected", "disconnected"}
    assert handler.handles_user("message")
    other = config.hub("OTHER")
    assert other.event_handlers[0].url_for("other", "connect") == "http://h/other/connect"
    assert other.event_handlers[0].system_events == frozenset()
    assert other.handler_for_user("message") is None


def test_cli_key_wins_over_env() -> None:
    config = load_config(environ={"WebPubSub__AccessKey": "E" * 32}, access_key="C" * 32)
    assert config.access_key == "C" * 32


@pytest.mark.parametrize(
    "env",
    [
        {"WebPubSub__Hubs__h__EventHandlers__0__EventPattern": "*"},  # no UrlTemplate
        {"WebPubSub__Hubs__h__EventHandlers__0__UrlTemplate": "tunnel:///api"},
        {"WebPubSub__Hubs__h__EventHandlers__0__UrlTemplate": "http://{hub}.x/api"},
        {
            "WebPubSub__Hubs__h__EventHandlers__0__UrlTemplate": "http://x/api",
            "WebPubSub__Hubs__h__EventHandlers__0__SystemEvents__0": "bogus",
        },
        {"WebPubSub__Hubs__h__AnonymousConnectPolicy": "maybe"},
        {"WebPubSub__Hubs__1bad__AnonymousConnectPolicy": "allow"},
        {"WebPubSub__AccessKey": "short"},
    ],
)
def test_invalid_configuration(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config(environ=env)


def test_unreadable_config_file(tmp_path) -> None:
    bad = tmp_path / "appsettings.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError):
        load_config(config_path=bad)
    with pytest.raises(ConfigError):
        load_config(config_path=tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        (DEFAULT_ACCESS_KEY, True),
        ("a" * 32, True),
        ("a" * 31, False),
        (" " + "a" * 32, False),
        ("a" * 32 + ";", False),
        ("a" * 32 + "\n", False),
        ("a" * 16 + "\x01" + "a" * 16, False),
        ("é" * 16, True),  # 32 UTF-8 bytes
    ],
)
def test_access_key_rules(key: str, ok: bool) -> None:
    if ok:
        assert validate_access_key(key) == key
    else:
        with pytest.raises(ConfigError):
            validate_access_key(key)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("*", "message", True),
        ("message", "Message", True),
        ("message,join", "join", True),
        ("message, join", "join", True),
        ("message", "join", False),
        ("", "message", False),
        ("room.*", "room.a", True),
        ("room.*", "lobby.a", False),
        ("ro?m", "room", True),
    ],
)
def test_user_event_patterns(pattern: str, event: str, expected: bool) -> None:
    assert user_event_matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("template", "hub", "event", "expected"),
    [
        ("http://h/api/{hub}/{event}", "Chat", "connect", "http://h/api/Chat/connect"),
        ("http://h/api/{HUB}/{Event}", "c", "a b", "http://h/api/c/a%20b"),
        ("http://h/api/eventhandler", "c", "message", "http://h/api/eventhandler"),
        ("http://h/x?e={event}", "c", "a/b", "http://h/x?e=a%2Fb"),
    ],
)
def test_url_template(template: str, hub: str, event: str, expected: str) -> None:
    assert expand_url_template(template, hub, event) == expected


def test_deeply_nested_appsettings_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text('{"WebPubSub":' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ConfigError, match="nested"):
        load_config(config_path=path)
