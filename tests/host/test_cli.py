"""`python -m devstack.host` as a process: banner, settings, ports, keys, signals."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.host.helpers import (
    FIXTURE_APPS,
    ROOT,
    HostProcess,
    host_env,
    run_host_to_exit,
    start_host_process,
)


def fetch(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        # Only http://localhost URLs printed by the host under test reach here.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def settings_app(tmp_path: Path, values: dict | str) -> Path:
    app_dir = tmp_path / "app"
    shutil.copytree(FIXTURE_APPS / "settings_app", app_dir)
    text = values if isinstance(values, str) else json.dumps({"Values": values})
    (app_dir / "local.settings.json").write_text(text, encoding="utf-8")
    return app_dir


def test_banner_lists_functions_methods_and_urls(host_process: list[HostProcess]) -> None:
    host = start_host_process(FIXTURE_APPS / "basic")
    host_process.append(host)
    base = host.base_url
    assert base.startswith("http://localhost:")
    assert "Functions:" in host.text
    assert f"echo: [GET,POST,PUT] {base}/api/echo/{{*rest}}" in host.text
    assert f"item_by_id: [GET] {base}/api/items/{{id:int}}" in host.text
    assert f"whoami: [GET,POST,DELETE,HEAD,PATCH,PUT,OPTIONS,TRACE] {base}/api/whoami" in host.text
    assert f"keyed: [GET] {base}/api/keyed\n" in host.text  # no key shown without enforcement
    assert fetch(f"{base}/admin/host/status") == (200, '{"state": "Running"}')
    assert fetch(f"{base}/api/items/7") == (200, "int:7")
    # The worker runs with the app folder as its working directory.
    assert fetch(f"{base}/api/cwd") == (200, str(FIXTURE_APPS / "basic"))
    assert host.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_host_cleanly(host_process: list[HostProcess], sig: int) -> None:
    host = start_host_process(FIXTURE_APPS / "basic")
    host_process.append(host)
    assert fetch(f"{host.base_url}/api/plain")[0] == 200
    assert host.stop(sig) == 0
    assert "Application is shutting down..." in host.text
    assert "Traceback" not in host.text
    with pytest.raises(OSError):
        fetch(f"{host.base_url}/admin/host/status", timeout=2)


def test_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_host_to_exit(FIXTURE_APPS / "basic", "--port", str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} is already in use" in lines[0]


def test_missing_app_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = run_host_to_exit(tmp_path / "nope")
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_local_settings_load_before_import_and_env_wins(
    tmp_path: Path, host_process: list[HostProcess]
) -> None:
    app_dir = settings_app(
        tmp_path,
        {"FIXTURE_AT_IMPORT": "from-file", "FIXTURE_A": "file-a", "FIXTURE_B": "file-b"},
    )
    env = host_env(FIXTURE_B="from-env")
    host = start_host_process(app_dir, env=env)
    host_process.append(host)
    base = host.base_url
    assert fetch(f"{base}/api/import-time") == (200, "from-file")
    assert fetch(f"{base}/api/setting/FIXTURE_A") == (200, "file-a")
    assert fetch(f"{base}/api/setting/FIXTURE_B") == (200, "from-env")
    assert host.stop() == 0


def test_local_http_port_from_local_settings(
    tmp_path: Path, host_process: list[HostProcess]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_dir = settings_app(tmp_path, json.dumps({"Values": {}, "Host": {"LocalHttpPort": port}}))
    host = start_host_process(app_dir, port=None)
    host_process.append(host)
    assert host.base_url == f"http://localhost:{port}"
    assert fetch(f"{host.base_url}/api/import-time") == (200, "<unset>")


def test_malformed_local_settings_stop_the_host(tmp_path: Path) -> None:
    app_dir = settings_app(tmp_path, '{"Values": {"A": "1",}}')
    result = run_host_to_exit(app_dir)
    assert result.returncode == 1
    assert "local.settings.json is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_thread_count_is_a_clear_error(tmp_path: Path) -> None:
    app_dir = settings_app(tmp_path, {"PYTHON_THREADPOOL_THREAD_COUNT": "lots"})
    result = run_host_to_exit(app_dir)
    assert result.returncode == 1
    assert "PYTHON_THREADPOOL_THREAD_COUNT must be a positive integer" in result.stderr


def test_empty_route_prefix(host_process: list[HostProcess]) -> None:
    host = start_host_process(FIXTURE_APPS / "empty_prefix")
    host_process.append(host)
    assert f"hello: [GET] {host.base_url}/hello/{{name}}" in host.text
    assert fetch(f"{host.base_url}/hello/ana") == (200, "hello ana")
    assert fetch(f"{host.base_url}/api/hello/ana")[0] == 404


def test_enforce_keys_prints_keyed_urls(host_process: list[HostProcess]) -> None:
    host = start_host_process(
        FIXTURE_APPS / "basic", "--enforce-keys", "--function-key", "rehearsal-key"
    )
    host_process.append(host)
    base = host.base_url
    assert f"keyed: [GET] {base}/api/keyed?code=rehearsal-key" in host.text
    assert f"plain: [GET] {base}/api/plain\n" in host.text  # anonymous: no key
    assert fetch(f"{base}/api/keyed")[0] == 401
    assert fetch(f"{base}/api/keyed?code=rehearsal-key") == (200, "keyed ok")


def test_enforce_keys_without_a_key_generates_one(host_process: list[HostProcess]) -> None:
    env = host_env()
    env.pop("DEVSTACK_FUNCTION_KEY", None)
    host = start_host_process(FIXTURE_APPS / "basic", "--enforce-keys", env=env)
    host_process.append(host)
    key = host.text.split("/api/keyed?code=", 1)[1].split()[0]
    assert len(key) >= 32
    assert fetch(f"{host.base_url}/api/keyed?code={key}") == (200, "keyed ok")


def test_repo_app_routes(host_process: list[HostProcess]) -> None:
    """The real function_app.py loads and serves the contract's routes (internals not assumed)."""
    host = start_host_process(ROOT)
    host_process.append(host)
    base = host.base_url
    assert f"negotiate: [GET] {base}/api/negotiate" in host.text
    assert f"{base}/api/eventhandler" in host.text
    assert f"{base}/api/index" in host.text
    assert f"{base}/api/static/{{*path}}" in host.text
    assert host.stop() == 0
