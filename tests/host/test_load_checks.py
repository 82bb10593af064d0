"""The worker's load-time checks and the one-FunctionApp rule, on small fixture apps."""

from __future__ import annotations

import azure.functions as func
import pytest

from devstack.host.app_loader import AppImportError, AppLoadError
from tests.host.helpers import FIXTURE_APPS, load_fixture, run_host_to_exit


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "bad_param_name",
            "cannot load the hello function: the following parameters are declared in Python "
            "but not in the function's bindings: ['request']",
        ),
        (
            "bad_return",
            'cannot load the hello function: Python return annotation "dict" does not match '
            'binding type "http"',
        ),
        (
            "bad_context",
            'the "context" parameter is expected to be of type azure.functions.Context, got str',
        ),
        ("bad_trigger_annotation", 'does not match its Python annotation "str"'),
        ("two_apps", "more than one FunctionApp instance"),
        ("no_app", "no FunctionApp instance found"),
        ("bad_route", "the route constraint 'nosuchconstraint' could not be resolved"),
        ("import_error", "RuntimeError: setting WebPubSubConnectionString is missing"),
    ],
)
def test_bad_apps_fail_to_load(fixture: str, message: str) -> None:
    with pytest.raises(AppLoadError) as caught:
        load_fixture(fixture)
    assert message in str(caught.value)


def test_import_errors_keep_their_cause() -> None:
    with pytest.raises(AppImportError) as caught:
        load_fixture("import_error")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_missing_function_app_py(tmp_path) -> None:
    with pytest.raises(AppLoadError, match=r"function_app\.py not found"):
        load_fixture(str(tmp_path))


def test_basic_app_index() -> None:
    functions = {f.name: f for f in load_fixture("basic")}
    assert functions["echo"].template.text == "api/echo/{*rest}"
    assert functions["echo"].methods == ("GET", "POST", "PUT")
    assert functions["whoami"].methods is None  # no methods: every method
    assert functions["whoami"].wants_context and functions["whoami"].is_async
    assert not functions["plain"].wants_context and not functions["plain"].is_async
    # A trigger without a route is served under the function name.
    assert functions["default_route"].template.text == "api/default_route"
    # Auth level: the trigger's own, else the app's (ANONYMOUS in this fixture).
    assert functions["keyed"].auth_level is func.AuthLevel.FUNCTION
    assert functions["admin_only"].auth_level is func.AuthLevel.ADMIN
    assert functions["plain"].auth_level is func.AuthLevel.ANONYMOUS


def test_empty_route_prefix() -> None:
    (hello,) = load_fixture("empty_prefix", route_prefix="")
    assert hello.template.text == "hello/{name}"


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_return", 'Python return annotation "dict" does not match binding type "http"'),
        ("two_apps", "more than one FunctionApp instance"),
    ],
)
def test_cli_stops_with_one_clear_line(fixture: str, message: str) -> None:
    result = run_host_to_exit(FIXTURE_APPS / fixture)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "devstack.host:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr


def test_cli_shows_the_trace_of_an_import_error() -> None:
    result = run_host_to_exit(FIXTURE_APPS / "import_error")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert 'import_error/function_app.py", line' in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("RuntimeError: setting WebPubSubConnectionString is missing")
    )
