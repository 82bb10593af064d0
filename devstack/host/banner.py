"""The `func start` style listing of functions, methods and URLs. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from devstack.host.app_loader import HttpFunction
from devstack.host.function_keys import KEY_QUERY, requires_key

ALL_METHODS = ("GET", "POST", "DELETE", "HEAD", "PATCH", "PUT", "OPTIONS", "TRACE")
_LOOPBACK = {"127.0.0.1", "0.0.0.0", "localhost", "::1", "::", ""}


def base_url(host: str, port: int) -> str:
    """The URL people open: func start shows localhost for loopback/any-address binds."""
    shown = "localhost" if host in _LOOPBACK else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def function_url(base: str, function: HttpFunction, key: str | None) -> str:
    url = f"{base}/{function.template.text}".rstrip("/") if function.template.text else base + "/"
    if key and requires_key(function.auth_level):
        url += f"?{KEY_QUERY}={key}"
    return url


def banner_lines(functions: Sequence[HttpFunction], base: str, key: str | None = None) -> list[str]:
    lines = ["", "Functions:", ""]
    for function in functions:
        methods = function.methods or ALL_METHODS
        lines.append(
            f"        {function.name}: [{','.join(methods)}] {function_url(base, function, key)}"
        )
        lines.append("")
    if not functions:
        lines.append("        (no HTTP functions found)")
        lines.append("")
    return lines
