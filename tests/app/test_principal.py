"""chat.identity's principal parser: every shape App Service Authentication sends. Pure."""

from __future__ import annotations

import base64
import json

import pytest

from chat.errors import BadRequest as PrincipalError
from chat.identity import MAX_ENCODED_LENGTH
from chat.identity import SignedIn as Principal
from chat.identity import signed_in as decode

OID = "6f1c2a34-0b8e-4d3c-9a51-2f0e7c1d9b44"
LONG_EMAIL = "a.very.long.first.name.and.surname.for.testing@subdivision.contoso.example"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
NAMEID_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(raw).decode()


AAD = {
    "auth_typ": "aad",
    "claims": [
        {"typ": "aud", "val": "client-id"},
        {"typ": EMAIL_CLAIM, "val": "alice@contoso.com"},
        {"typ": "name", "val": "Alice Example"},
        {"typ": OID_CLAIM, "val": OID},
        {"typ": "preferred_username", "val": "alice@contoso.com"},
        {"typ": "roles", "val": "Chat.Admin"},
    ],
    "name_typ": EMAIL_CLAIM,
    "role_typ": ROLE_CLAIM,
}
GITHUB = {
    "auth_typ": "github",
    "claims": [
        {"typ": NAMEID_CLAIM, "val": "583231"},
        {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "val": "octocat"},
    ],
    "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "role_typ": ROLE_CLAIM,
}


def headers(**values: str) -> dict[str, str]:
    names = {
        "principal": "x-ms-client-principal",
        "id": "x-ms-client-principal-id",
        "name": "x-ms-client-principal-name",
        "idp": "x-ms-client-principal-idp",
    }
    return {names[key]: value for key, value in values.items()}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({}, None, id="no principal at all"),
        pytest.param(
            headers(principal=b64(AAD), id=OID, name="alice@contoso.com", idp="aad"),
            Principal("aad", OID, "alice@contoso.com"),
            id="Entra: all four headers, as Azure sends them",
        ),
        pytest.param(
            headers(principal=b64(AAD)),
            Principal("aad", OID, "alice@contoso.com"),
            id="Entra: claims only (name_typ, objectidentifier)",
        ),
        pytest.param(
            headers(principal=b64(GITHUB), id="583231", name="octocat", idp="github"),
            Principal("github", "583231", "octocat"),
            id="GitHub: all four headers",
        ),
        pytest.param(
            headers(principal=b64(GITHUB)),
            Principal("github", "583231", "octocat"),
            id="GitHub: claims only (nameidentifier)",
        ),
        pytest.param(
            headers(id=OID, name="bob@contoso.com", idp="AAD"),
            Principal("aad", OID, "bob@contoso.com"),
            id="headers without the claims; provider name in any case",
        ),
        pytest.param(
            headers(id=OID, name=LONG_EMAIL, idp="aad"),
            Principal("aad", OID, LONG_EMAIL),
            id="75-character e-mail address",
        ),
        pytest.param(
            headers(id=OID, name="Zoë Ångström", idp="aad"),
            Principal("aad", OID, "Zoë Ångström"),
            id="non-ASCII name",
        ),
        pytest.param(
            headers(principal=b64({**AAD, "name_typ": None}), idp="aad"),
            Principal("aad", OID, "Alice Example"),
            id="no name_typ: the name claim",
        ),
        pytest.param(
            headers(principal=b64({"auth_typ": "aad", "claims": []}), id=OID, name=" al ", idp=""),
            Principal("aad", OID, "al"),
            id="empty IDP header falls back to auth_typ; name trimmed",
        ),
    ],
)
def test_shapes(given: dict, expected: Principal | None) -> None:
    assert decode(given) == expected


DEEP = b'{"claims":' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (headers(principal="%%not base64%%"), "not usable base64 JSON"),
        (headers(principal=b64(b"not json")), "not usable base64 JSON"),
        (headers(principal=b64(b"\xff\xfe\x00")), "not usable base64 JSON"),
        (headers(principal=b64(b'{"a": NaN')), "not usable base64 JSON"),
        (headers(principal=b64([1, 2])), "not a JSON object"),
        (headers(principal=b64("aad")), "not a JSON object"),
        (headers(principal=b64(DEEP)), "nested more than"),
        (headers(principal="A" * (MAX_ENCODED_LENGTH + 4)), "too long"),
        (headers(name="x" * (MAX_ENCODED_LENGTH + 1), idp="aad", id="1"), "too long"),
        (headers(principal=b64({"auth_typ": "aad", "claims": {}})), "claims must be a list"),
        (headers(principal=b64({"auth_typ": "aad", "claims": [1]})), "text typ and val"),
        (
            headers(principal=b64({"auth_typ": "aad", "claims": [{"typ": "name", "val": 5}]})),
            "text typ and val",
        ),
        (headers(principal=b64({"auth_typ": 7, "claims": []})), "auth_typ must be text"),
        (headers(principal=b64({**AAD, "name_typ": ["x"]})), "name_typ must be text"),
        (headers(name="alice"), "no usable identity provider"),
        (headers(name="alice", id="1", idp="a b"), "no usable identity provider"),
        (headers(name="alice", id="1", idp="x" * 40), "no usable identity provider"),
        (headers(name="alice", idp="github"), "carries no user id"),
        (headers(id="1", idp="github"), "carries no user name"),
        (headers(id="1", idp="github", name="   "), "carries no user name"),
        (headers(id="1", idp="aad", name="x" * 257), "user name is too long"),
        (headers(id="1" * 129, idp="aad", name="x"), "user id is too long"),
        (headers(id="1", idp="aad", name="evil\u202egnp.exe"), "control characters"),
        (headers(id="1", idp="aad", name="two\nlines"), "control characters"),
        (headers(id="1\u200b", idp="aad", name="bob"), "control characters"),
        (
            headers(
                principal=b64(b'{"auth_typ":"aad","claims":[{"typ":"name","val":"a\\ud800"}]}'),
                id="1",
            ),
            "control characters",
        ),
        (
            headers(
                principal=b64(b'{"auth_typ":"aad","claims":[{"typ":"oid","val":"\\udfff"}]}'),
                name="a",
            ),
            "control characters",
        ),
        # A broken principal is refused when its claims are needed (here: the provider)...
        (headers(principal="%%", id="1", name="a"), "not usable base64 JSON"),
    ],
)
def test_hostile_values_are_refused_with_a_reason(given: dict, reason: str) -> None:
    with pytest.raises(PrincipalError, match=reason):
        decode(given)


def test_a_non_text_header_value_is_refused() -> None:
    with pytest.raises(PrincipalError, match="must be text"):
        decode({"x-ms-client-principal-name": 5})  # type: ignore[dict-item]


def test_unneeded_claims_are_not_read() -> None:
    """...and not even decoded when the -ID, -NAME and -IDP headers say everything."""
    given = headers(principal="%%", id="1", name="alice", idp="github")
    assert decode(given) == Principal("github", "1", "alice")
