"""How the host flattens HTTP headers and query strings before the worker sees them. Pure.

The host hands the worker one string per name: header names are lower-cased and repeated
headers joined with ","; repeated query keys are joined with "," and empty values dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl


def join_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def join_query(query_string: str) -> dict[str, str]:
    params: dict[str, str] = {}
    # ASP.NET's query collection is case-insensitive: "id=a&ID=b" is one key, spelt as first seen.
    spelling: dict[str, str] = {}
    # keep_blank_values=False drops "a=" and bare "a" the way the host does.
    for key, value in parse_qsl(query_string, keep_blank_values=False, errors="replace"):
        name = spelling.setdefault(key.lower(), key)
        params[name] = f"{params[name]},{value}" if name in params else value
    return params
