"""Import function_app.py and index it the way the Python worker does.

The worker imports the module ``function_app`` from the app directory, requires exactly one
FunctionApp (FunctionRegister) instance in it, and calls ``get_functions()`` once (a second call
raises ``ValueError`` about duplicate names, so the result is cached by the caller).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
from azure.functions.decorators.function_app import FunctionRegister
from azure.functions.decorators.http import HttpTrigger

from devstack.host.load_checks import FunctionLoadError, check_http_function
from devstack.host.route_template import (
    RouteTemplate,
    RouteTemplateError,
    join_prefix,
    parse_template,
)

MODULE_NAME = "function_app"
SCRIPT_FILE = "function_app.py"

logger = logging.getLogger(__name__)


class AppLoadError(RuntimeError):
    """The app cannot be loaded; the host must not start."""


class AppImportError(AppLoadError):
    """function_app.py raised while being imported (its traceback is worth showing)."""


@dataclass(frozen=True)
class HttpFunction:
    name: str
    user_function: Callable[..., object]
    trigger_param: str
    wants_context: bool
    methods: tuple[str, ...] | None  # None: every method
    auth_level: func.AuthLevel
    route: str  # as declared, without the prefix
    template: RouteTemplate  # with the prefix

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)


def import_app_module(app_dir: Path) -> ModuleType:
    script = app_dir / SCRIPT_FILE
    if not script.is_file():
        raise AppLoadError(f"{script} not found: the app directory must contain {SCRIPT_FILE}")
    # The worker puts the app directory on sys.path so the app can import its own packages.
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    sys.modules.pop(MODULE_NAME, None)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, script)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(MODULE_NAME, None)
        raise AppImportError(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    return module


def find_function_app(module: ModuleType) -> FunctionRegister:
    apps: dict[int, FunctionRegister] = {
        id(value): value for value in vars(module).values() if isinstance(value, FunctionRegister)
    }
    if not apps:
        raise AppLoadError(f"no FunctionApp instance found at the top level of {SCRIPT_FILE}")
    if len(apps) > 1:
        raise AppLoadError(
            f"more than one FunctionApp instance is defined at the top level of {SCRIPT_FILE}; "
            "the worker requires exactly one"
        )
    return next(iter(apps.values()))


def _methods(trigger: HttpTrigger) -> tuple[str, ...] | None:
    if not trigger.methods:
        return None
    # Declared order is kept for the banner; duplicates dropped.
    return tuple(dict.fromkeys(str(getattr(m, "value", m)).upper() for m in trigger.methods))


def index_app(
    app: FunctionRegister, route_prefix: str, others: list[Any] | None = None
) -> list[HttpFunction]:
    """Index the app once: run the load-time checks and parse every route template.

    Functions with other triggers go to `others` when given (devstack/host/timers.py runs
    the timer ones), else they are skipped with a warning."""
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise AppLoadError(f"indexing {SCRIPT_FILE} failed: {exc}") from exc
    indexed: list[HttpFunction] = []
    for function in functions:
        name = function.get_function_name() or function.get_user_function().__name__
        trigger = function.get_trigger()
        if not isinstance(trigger, HttpTrigger):
            if others is not None:
                others.append(function)
                continue
            logger.warning(
                "Function '%s' has a %s trigger; devstack.host only runs HTTP triggers, "
                "so it is skipped",
                name,
                getattr(trigger, "type", "non-HTTP"),
            )
            continue
        try:
            signature = check_http_function(
                name, function.get_user_function(), function.get_bindings()
            )
        except FunctionLoadError as exc:
            raise AppLoadError(str(exc)) from exc
        route = trigger.route if trigger.route is not None else name
        try:
            template = parse_template(join_prefix(route_prefix, route))
        except RouteTemplateError as exc:
            raise AppLoadError(f"function '{name}': {exc}") from exc
        auth_level = trigger.auth_level or app.auth_level
        indexed.append(
            HttpFunction(
                name=name,
                user_function=function.get_user_function(),
                trigger_param=signature.trigger_param,
                wants_context=signature.wants_context,
                methods=_methods(trigger),
                auth_level=func.AuthLevel(getattr(auth_level, "value", auth_level)),
                route=route,
                template=template,
            )
        )
    return indexed


def load_app(
    app_dir: Path, route_prefix: str, others: list[Any] | None = None
) -> list[HttpFunction]:
    return index_app(find_function_app(import_app_module(app_dir)), route_prefix, others)
