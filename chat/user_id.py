"""User ids: validated from negotiate, lazy-auth connects and App Service Authentication."""

from __future__ import annotations

from collections.abc import Mapping

from chat import bounded_json, deceptive_names

MAX_LENGTH = 64
# A principal carries a handful of claims; a few kilobytes of group claims at most.
PRINCIPAL_MAX_BYTES = 64 * 1024


class InvalidUserId(ValueError):
    """The reason is meant for the person who sent the id."""


def validate(raw: str | None) -> str:
    """Return the user id with surrounding white space removed, or raise InvalidUserId."""
    user = (raw or "").strip()
    if not user:
        raise InvalidUserId("missing user id")
    if len(user) > MAX_LENGTH:
        raise InvalidUserId(f"user id is too long (at most {MAX_LENGTH} characters)")
    # Printable ASCII (most ids) needs no per-character Unicode look-up.
    if not (user.isascii() and user.isprintable()):
        problem = deceptive_names.problem(user)
        if problem is not None:
            raise InvalidUserId(f"user id {problem}")
    if "," in user:
        # The Functions host joins a repeated ce-userId header with ",": an id holding one
        # could not be told apart from two, so events would be refused (cloudevents.py).
        raise InvalidUserId("user id must not contain a comma")
    return user


def from_client_principal(headers: Mapping[str, str]) -> str | None:
    """The signed-in user's name when App Service Authentication fronts the app, else None.

    Azure's front end sets these headers itself (and strips any a client sends) only when
    authentication is on, so their presence means the identity is vouched for.
    """
    # Most callers carry neither header. `in` first: a missed `.get` on the worker's
    # case-insensitive headers raises and catches a KeyError, the costliest step of negotiate's
    # own work for an anonymous caller. A header that is present is read as before.
    if "x-ms-client-principal-name" not in headers and "x-ms-client-principal" not in headers:
        return None
    name = headers.get("x-ms-client-principal-name")
    if name and name.strip():
        return validate(name)
    encoded = headers.get("x-ms-client-principal")
    if not encoded:
        return None
    try:
        principal = bounded_json.loads_base64(
            encoded, max_bytes=PRINCIPAL_MAX_BYTES, validate=False
        )
    except bounded_json.InvalidJson as error:
        raise InvalidUserId(f"x-ms-client-principal is not usable base64 JSON: {error}") from None
    if not isinstance(principal, dict) or not isinstance(principal.get("claims"), list):
        raise InvalidUserId("x-ms-client-principal has no claims")
    by_type = {
        claim.get("typ"): claim.get("val")
        for claim in principal["claims"]
        if isinstance(claim, dict) and isinstance(claim.get("typ"), str)
    }
    for claim_type in (principal.get("name_typ"), "name", "preferred_username", "email"):
        value = by_type.get(claim_type) if isinstance(claim_type, str) else None
        if isinstance(value, str) and value.strip():
            return validate(value)
    raise InvalidUserId("the signed-in principal carries no user name")


def from_connect_query(query: object) -> str:
    """The `id` a lazy-auth client put in its connect URL (`query` values are arrays)."""
    values = query.get("id") if isinstance(query, dict) else None
    if isinstance(values, list):
        values = values[0] if values else None
    if values is not None and not isinstance(values, str):
        raise InvalidUserId("missing user id")
    return validate(values)
