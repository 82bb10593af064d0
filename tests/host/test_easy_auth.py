"""devstack.host.easy_auth: the pure rules of the emulated App Service Authentication."""

from __future__ import annotations

import base64
import json

import pytest

from devstack.host.easy_auth import (
    Config,
    FormError,
    Refusal,
    Session,
    decode_cookie,
    default_id,
    encode_cookie,
    forwarded_headers,
    is_excluded,
    me,
    new_nonce,
    nonce_is_valid,
    principal_headers,
    safe_redirect,
    session_from_form,
    unauthenticated,
)

KEY = b"k" * 32
NOW = 1_800_000_000.0
ALICE = Session(
    "aad", "6f1c2a34-0b8e-4d3c-9a51-2f0e7c1d9b44", "alice@contoso.com", ("admin",), NOW + 60
)


def test_cookie_round_trip() -> None:
    assert decode_cookie(encode_cookie(ALICE, KEY), KEY, NOW) == ALICE


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: None,
        lambda c: "",
        lambda c: c + "x",  # mac changed
        lambda c: "e30" + c[3:],  # payload changed
        lambda c: c.split(".")[0],  # no mac
        lambda c: "x" * 5000,  # oversized
        lambda c: "not base64!.AAAA",
    ],
)
def test_tampered_cookies_are_no_session(mangle) -> None:
    assert decode_cookie(mangle(encode_cookie(ALICE, KEY)), KEY, NOW) is None


def test_a_cookie_from_another_key_or_expired_is_no_session() -> None:
    cookie = encode_cookie(ALICE, KEY)
    assert decode_cookie(cookie, b"other" * 8, NOW) is None
    assert decode_cookie(cookie, KEY, NOW + 61) is None


def test_principal_headers_are_what_azure_sends() -> None:
    headers = principal_headers(ALICE)
    assert headers["x-ms-client-principal-id"] == ALICE.id
    assert headers["x-ms-client-principal-name"] == "alice@contoso.com"
    assert headers["x-ms-client-principal-idp"] == "aad"
    document = json.loads(base64.b64decode(headers["x-ms-client-principal"], validate=True))
    assert set(document) == {"auth_typ", "claims", "name_typ", "role_typ"}
    assert document["auth_typ"] == "aad"
    by_type = {c["typ"]: c["val"] for c in document["claims"]}
    assert by_type[document["name_typ"]] == "alice@contoso.com"
    assert by_type["http://schemas.microsoft.com/identity/claims/objectidentifier"] == ALICE.id
    assert by_type[document["role_typ"]] == "admin"


def test_github_principal() -> None:
    bob = Session("github", "583231", "octocat")
    document = json.loads(base64.b64decode(principal_headers(bob)["x-ms-client-principal"]))
    by_type = {c["typ"]: c["val"] for c in document["claims"]}
    assert by_type[document["name_typ"]] == "octocat"
    assert "583231" in by_type.values()


def test_the_decoded_emulated_principal_is_what_the_app_reads() -> None:
    from chat.identity import SignedIn, signed_in

    assert signed_in(principal_headers(ALICE)) == SignedIn("aad", ALICE.id, ALICE.name)
    only_claims = {"x-ms-client-principal": principal_headers(ALICE)["x-ms-client-principal"]}
    assert signed_in(only_claims) == SignedIn("aad", ALICE.id, ALICE.name)


@pytest.mark.parametrize("session", [None, ALICE])
def test_callers_principal_headers_never_get_through(session: Session | None) -> None:
    sent = {
        "x-ms-client-principal-name": "mallory",
        "X-MS-CLIENT-PRINCIPAL": "e30=",
        "x-ms-client-principal-idp": "aad",
        "X-Ms-Client-Principal-Id": "1",
        "x-ms-token-aad-access-token": "forged",
        "accept": "text/html",
    }
    forwarded = forwarded_headers(sent, session)
    lowered = {k.lower(): v for k, v in forwarded.items()}
    assert lowered["accept"] == "text/html"
    assert "x-ms-token-aad-access-token" not in lowered
    if session is None:
        assert not any(k.startswith("x-ms-client-principal") for k in lowered)
    else:
        assert lowered["x-ms-client-principal-name"] == "alice@contoso.com"
        assert len([k for k in forwarded if k.lower() == "x-ms-client-principal"]) == 1


def test_me() -> None:
    [entry] = me(ALICE)
    assert entry["provider_name"] == "aad"
    assert entry["user_id"] == "alice@contoso.com"
    assert {"typ": "name", "val": "alice@contoso.com"} in entry["user_claims"]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            {"name": " alice "},
            Session("github", default_id("github", "alice"), "alice", (), NOW + 8 * 3600),
        ),
        (
            {"name": "alice", "id": "42", "roles": "a, b,a\nc"},
            Session("github", "42", "alice", ("a", "b", "c"), NOW + 8 * 3600),
        ),
    ],
)
def test_form(form: dict, expected: Session) -> None:
    assert session_from_form("github", form, NOW, Config()) == expected


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({}, "Enter the user name"),
        ({"name": "  "}, "Enter the user name"),
        ({"name": "a\r\nSet-Cookie: x"}, "one line"),
        ({"name": "x" * 1025}, "one line"),
        ({"name": "a", "id": "x" * 257}, "user id"),
        ({"name": "a", "roles": ",".join(str(i) for i in range(51))}, "roles"),
    ],
)
def test_bad_forms(form: dict, reason: str) -> None:
    with pytest.raises(FormError, match=reason):
        session_from_form("aad", form, NOW, Config())


def test_default_ids_look_like_the_providers_and_differ_between_them() -> None:
    aad, github = default_id("aad", "alice"), default_id("github", "alice")
    assert len(aad) == 36 and aad.count("-") == 4
    assert github.isdigit()
    assert default_id("aad", "alice") == aad  # the same person signs in again as the same id
    assert default_id("aad", "bob") != aad


@pytest.mark.parametrize(
    ("path", "excluded", "expected"),
    [
        ("/api/eventhandler", ("/api/eventhandler",), True),
        ("/API/EventHandler", ("/api/eventhandler",), True),
        ("/api/eventhandler/x", ("/api/eventhandler",), False),
        ("/api/static/app.js", ("/api/static/*",), True),
        ("/api/static", ("/api/static/*",), True),
        ("/api/staticx", ("/api/static/*",), False),
        ("/api/index", (), False),
    ],
)
def test_excluded_paths(path: str, excluded: tuple, expected: bool) -> None:
    assert is_excluded(path, excluded) is expected


@pytest.mark.parametrize(
    ("action", "path", "headers", "expected"),
    [
        ("AllowAnonymous", "/api/negotiate", {}, None),
        ("Return401", "/api/negotiate", {}, Refusal(401)),
        ("Return403", "/api/negotiate", {}, Refusal(403)),
        ("Return401", "/api/eventhandler?code=x", {}, None),
        (
            "RedirectToLoginPage",
            "/api/index?x=1",
            {},
            Refusal(302, "/.auth/login/aad?post_login_redirect_uri=/api/index%3Fx%3D1"),
        ),
        (
            "RedirectToLoginPage",
            "/api/negotiate",
            {"x-requested-with": "XMLHttpRequest"},
            Refusal(401),
        ),
    ],
)
def test_unauthenticated_actions(action: str, path: str, headers: dict, expected) -> None:
    config = Config(unauthenticated_action=action, excluded_paths=("/api/eventhandler",))
    assert unauthenticated(config, path, headers) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/default"),
        ("", "/default"),
        ("/api/index", "/api/index"),
        ("/api/index?room=a", "/api/index?room=a"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("/a\r\nSet-Cookie: x=1", None),
    ],
)
def test_redirects_stay_on_this_site(value: str | None, expected: str | None) -> None:
    assert safe_redirect(value, "/default") == expected


def test_nonces() -> None:
    nonce = new_nonce(KEY, NOW)
    assert nonce_is_valid(nonce, KEY, NOW)
    assert nonce_is_valid(nonce, KEY, NOW + 599)
    assert not nonce_is_valid(nonce, KEY, NOW + 600)  # expired
    assert not nonce_is_valid(nonce, b"other" * 8, NOW)
    expires, _, mac = nonce.partition(".")
    assert not nonce_is_valid(f"{int(expires) + 1000}.{mac}", KEY, NOW)  # extended by hand
    for bad in (None, "", ".", "x.y", "1" * 20 + ".a"):
        assert not nonce_is_valid(bad, KEY, NOW)
