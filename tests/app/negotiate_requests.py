"""Negotiate as the tests call it: a real func.HttpRequest, and the claims of the URL it returns."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import jwt

from tests.support.access_keys import HUB, PRIMARY


def request(params: dict | None = None, headers: dict | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        "GET",
        "http://localhost:7071/api/negotiate",
        params=params or {},
        headers=headers or {},
        body=b"",
    )


def decode(url: str, endpoint: str) -> dict:
    """The claims of the access token in a negotiated URL (checked: signature, audience)."""
    token = parse_qs(urlsplit(url).query)["access_token"][0]
    return jwt.decode(
        token, PRIMARY, algorithms=["HS256"], audience=f"{endpoint}/client/hubs/{HUB}"
    )
