"""The Python worker's load-time checks on one indexed function.

The real worker refuses to load an app whose function signatures disagree with their bindings,
so a local host that skipped these checks would run apps that fail in Azure. Messages follow the
worker's wording so they can be searched for.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass

import azure.functions as func
from azure.functions import meta
from azure.functions.decorators.core import Binding

HTTP_TRIGGER = "httpTrigger"
HTTP_OUTPUT = "http"
RETURN_BINDING = "$return"


class FunctionLoadError(RuntimeError):
    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {message}")
        self.function_name = function_name


@dataclass(frozen=True)
class HttpSignature:
    trigger_param: str
    wants_context: bool


def _type_name(annotation: object) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def _annotations(user_function: typing.Callable[..., object]) -> dict[str, object]:
    # Resolves string annotations (from __future__ import annotations) like the worker does;
    # falls back to the raw ones when a name cannot be resolved.
    try:
        return typing.get_type_hints(user_function)
    except Exception:  # any failure to evaluate hints means "use the raw annotations"
        return dict(getattr(user_function, "__annotations__", {}))


def _binding_type(binding: Binding) -> str:
    return str(binding.type)


def check_http_function(
    name: str, user_function: typing.Callable[..., object], bindings: list[Binding]
) -> HttpSignature:
    """Apply the worker's checks to an HTTP-triggered function; raise FunctionLoadError."""
    registry = meta.get_binding_registry()
    trigger = next((b for b in bindings if _binding_type(b) == HTTP_TRIGGER), None)
    if trigger is None:
        raise FunctionLoadError(name, "devstack.host only runs HTTP-triggered functions")
    for binding in bindings:
        if binding is trigger:
            continue
        if _binding_type(binding) != HTTP_OUTPUT or binding.name != RETURN_BINDING:
            raise FunctionLoadError(
                name,
                f'binding "{binding.name}" of type "{_binding_type(binding)}" is not supported '
                "by devstack.host (only an HTTP trigger with a $return HTTP output)",
            )
    params = dict(inspect.signature(user_function).parameters)
    hints = _annotations(user_function)
    bound = {b.name for b in bindings if b.name != RETURN_BINDING}

    wants_context = False
    if "context" in params and "context" not in bound:
        wants_context = True
        params.pop("context")
        annotation = hints.get("context", inspect.Parameter.empty)
        if annotation is not inspect.Parameter.empty and not (
            isinstance(annotation, type) and issubclass(annotation, func.Context)
        ):
            raise FunctionLoadError(
                name,
                'the "context" parameter is expected to be of type azure.functions.Context, '
                f"got {_type_name(annotation)}",
            )

    only_python = sorted(set(params) - bound)
    if only_python:
        raise FunctionLoadError(
            name,
            "the following parameters are declared in Python but not in the function's "
            f"bindings: {only_python}",
        )
    only_bindings = sorted(bound - set(params))
    if only_bindings:
        raise FunctionLoadError(
            name,
            "the following parameters are declared in the function's bindings but not in "
            f"Python: {only_bindings}",
        )

    trigger_annotation = hints.get(trigger.name, inspect.Parameter.empty)
    request_converter = registry.get(HTTP_TRIGGER)
    if trigger_annotation is not inspect.Parameter.empty and not (
        isinstance(trigger_annotation, type)
        and request_converter.check_input_type_annotation(trigger_annotation)
    ):
        raise FunctionLoadError(
            name,
            f'type of {trigger.name} binding "{HTTP_TRIGGER}" does not match its Python '
            f'annotation "{_type_name(trigger_annotation)}"',
        )

    if "return" in hints:
        returned = hints["return"]
        response_converter = registry.get(HTTP_OUTPUT)
        if not (
            isinstance(returned, type) and response_converter.check_output_type_annotation(returned)
        ):
            raise FunctionLoadError(
                name,
                f'Python return annotation "{_type_name(returned)}" does not match binding '
                f'type "{HTTP_OUTPUT}"',
            )
    return HttpSignature(trigger.name, wants_context)
