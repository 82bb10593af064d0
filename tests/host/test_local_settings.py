"""local.settings.json and host.json parsing (pure parts; the CLI tests cover the wiring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.host.host_json import HostJsonError, parse_route_prefix, read_route_prefix
from devstack.host.local_settings import (
    SettingsError,
    apply_values,
    parse_local_settings,
    read_local_settings,
)

P = Path("local.settings.json")


def test_values_become_strings() -> None:
    settings = parse_local_settings(
        '{"IsEncrypted": false, "Values": {"A": "x", "N": 5, "B": true, "Z": null}}', P
    )
    assert settings.values == {"A": "x", "N": "5", "B": "true"}
    assert settings.local_http_port is None


def test_host_local_http_port() -> None:
    assert parse_local_settings('{"Host": {"LocalHttpPort": 7072}}', P).local_http_port == 7072


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('{"Values": []}', "Values must be a JSON object"),
        ('{"Values": {"A": {"nested": 1}}}', "Values.A must be a string"),
        ('{"IsEncrypted": true, "Values": {}}', "encrypted"),
        ('{"Host": {"LocalHttpPort": "x"}}', "LocalHttpPort"),
    ],
)
def test_malformed_files_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_local_settings(text, P)


def test_existing_environment_wins() -> None:
    environ = {"A": "from-env"}
    applied = apply_values({"A": "from-file", "B": "from-file"}, environ)
    assert environ == {"A": "from-env", "B": "from-file"}
    assert applied == ["B"]


def test_missing_file_is_fine(tmp_path: Path) -> None:
    assert read_local_settings(tmp_path).values == {}


def test_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"Values": {"A": "1"}}', encoding="utf-8-sig")
    assert read_local_settings(tmp_path).values == {"A": "1"}


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("{}", "api"),
        ('{"extensions": {"http": {}}}', "api"),
        ('{"extensions": {"http": {"routePrefix": ""}}}', ""),
        ('{"extensions": {"http": {"routePrefix": "/v1/"}}}', "v1"),
    ],
)
def test_route_prefix(text: str, prefix: str) -> None:
    assert parse_route_prefix(text, Path("host.json")) == prefix


@pytest.mark.parametrize(
    "text",
    ["{", '{"extensions": {"http": {"routePrefix": 5}}}', '{"extensions": {"http": 1}}', "[1]"],
)
def test_bad_host_json(text: str) -> None:
    with pytest.raises(HostJsonError):
        parse_route_prefix(text, Path("host.json"))


def test_missing_host_json_defaults_to_api(tmp_path: Path) -> None:
    assert read_route_prefix(tmp_path) == "api"
