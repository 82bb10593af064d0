"""`--sign-in` on `python -m devstack` and `python -m devstack.host`: flags and wiring."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.host.cli import parse_args as host_args
from devstack.stack import parse_args as stack_args
from devstack.stack_wiring import StackOptions, host_command, host_env
from tests.host.helpers import FIXTURE_APPS, ROOT, start_host_process
from tests.host.helpers import host_env as process_env
from tests.support.processes import ProcessOutput, spawn, stop_process
from tests.support.stack import free_port


def test_stack_flag_turns_on_the_emulation_and_the_app_mode() -> None:
    options, _ = stack_args(["--sign-in"])
    assert options.sign_in
    command = host_command(options)
    assert command[command.index("--sign-in-providers") + 1] == "aad,github"
    assert "--sign-in" in command
    env = host_env(options, {"ChatLazyAuth": "true"})
    assert env["ChatSignIn"] == "required"
    assert env["ChatLazyAuth"] == "false"
    assert env["ChatSignInProviders"] == "aad,github"


def test_without_the_flag_nothing_changes() -> None:
    options, _ = stack_args([])
    assert not options.sign_in
    assert "--sign-in" not in host_command(options)
    assert "ChatSignIn" not in host_env(StackOptions(), {})


def test_host_flags() -> None:
    assert host_args([]).easy_auth is None
    config = host_args(
        [
            "--sign-in",
            "--sign-in-providers",
            "GitHub,aad",
            "--sign-in-action",
            "RedirectToLoginPage",
            "--sign-in-exclude",
            "/api/eventhandler",
        ]
    ).easy_auth
    assert config is not None
    assert config.providers == ("github", "aad")
    assert config.redirect_to_provider == "github"
    assert config.unauthenticated_action == "RedirectToLoginPage"
    assert config.excluded_paths == ("/api/eventhandler",)


@pytest.mark.parametrize(
    "argv",
    [
        ["--sign-in", "--sign-in-providers", "aad,myspace"],
        ["--sign-in", "--sign-in-providers", ","],
        ["--sign-in", "--sign-in-action", "Return404"],
    ],
)
def test_bad_host_flags_exit_with_a_message(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        host_args(argv)
    assert exited.value.code == 2
    assert "--sign-in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), "<unset>"),  # not even local.settings.json or the environment may claim it
        (("--sign-in",), "True"),
    ],
)
def test_the_host_alone_decides_website_auth_enabled(
    tmp_path, host_process, flags: tuple[str, ...], expected: str
) -> None:
    app_dir = settings_app(tmp_path, {"WEBSITE_AUTH_ENABLED": "True"})
    host = start_host_process(app_dir, *flags, env=process_env(WEBSITE_AUTH_ENABLED="True"))
    host_process.append(host)
    assert status_of(f"{host.base_url}/api/setting/WEBSITE_AUTH_ENABLED") == (200, expected)


def settings_app(tmp_path: Path, values: dict) -> Path:
    """The settings fixture app with its own local.settings.json."""
    app_dir = tmp_path / "app"
    shutil.copytree(FIXTURE_APPS / "settings_app", app_dir)
    (app_dir / "local.settings.json").write_text(json.dumps({"Values": values}), encoding="utf-8")
    return app_dir


def status_of(url: str) -> tuple[int | None, str]:
    # Only loopback URLs of the host or stack under test are requested.
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return None, ""


def start_runner(
    runners: list[subprocess.Popen[str]], *args: str
) -> tuple[subprocess.Popen[str], ProcessOutput]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process, output = spawn(
        [sys.executable, "-m", "devstack", *args], env=env, cwd=str(ROOT), new_session=True
    )
    runners.append(process)
    return process, output


@pytest.fixture
def stack_runners() -> Iterator[list[subprocess.Popen[str]]]:
    """`python -m devstack` processes, each in its own process group, killed at teardown."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.mark.stack
def test_make_run_sign_in_starts_a_signed_in_stack(stack_runners) -> None:
    """`make run ARGS=--sign-in` = `python -m devstack --sign-in`: the banner says so, the host
    serves the sign-in form, and the app refuses negotiate without a sign-in."""
    emulator_port, host_port = free_port(), free_port()
    runner, output = start_runner(
        stack_runners,
        "--sign-in",
        "--emulator-port",
        str(emulator_port),
        "--host-port",
        str(host_port),
        # Never the shared default port or the repository's .azurite/ folder.
        "--storage-port",
        str(free_port()),
        "--storage-in-memory",
    )
    output.wait_for(re.escape("Sign-in:           required"), 30, runner)
    base = f"http://127.0.0.1:{host_port}"
    assert "?connect=direct" not in output.text  # no lazy-auth line
    assert status_of(f"{base}/.auth/login/aad")[0] == 200
    assert status_of(f"{base}/.auth/login/github")[0] == 200
    assert status_of(f"{base}/.auth/me")[0] == 401
    assert status_of(f"{base}/api/negotiate?id=alice")[0] == 401
    assert stop_process(runner, signal.SIGINT, timeout=15) == 0
    output.join()


def test_the_deployments_redirect_can_be_run_locally() -> None:
    options, _ = stack_args(["--sign-in", "--sign-in-action", "RedirectToLoginPage"])
    command = host_command(options)
    assert command[command.index("--sign-in-action") + 1] == "RedirectToLoginPage"
    # As in infra/sign-in.bicep: Web PubSub calls the webhook with no user.
    assert command[command.index("--sign-in-exclude") + 1] == "/api/eventhandler"
    assert "--sign-in-action" not in host_command(stack_args(["--sign-in"])[0])


def test_a_sign_in_action_needs_sign_in(capsys) -> None:
    with pytest.raises(SystemExit):
        stack_args(["--sign-in-action", "Return401"])
    assert "--sign-in-action needs --sign-in" in capsys.readouterr().err
