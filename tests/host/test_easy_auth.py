"""devstack.host.easy_auth: the pure rules of the emulated App Service Authentication."""

from __future__ import annotations

import base64
import json

import pytest

from devstack.host.easy_auth import (
    Config,
    FormError,
    NonceLedger,
    Refusal,
    Session,
    decode_cookie,
    default_id,
    encode_cookie,
    forwarded_headers,
    is_excluded,
    me,
    new_nonce,
    nonce_accepted,
    nonce_is_valid,
    post_is_same_origin,
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
        ("/", "/"),
        ("/api/index", "/api/index"),
        ("/api/index?room=a&b=c", "/api/index?room=a&b=c"),
        ("/api/index#room=lobby", "/api/index#room=lobby"),
        ("/api/r%C3%A4um", "/api/r%C3%A4um"),
        # Not ASCII: percent-encoded so the Location header carries the same path.
        ("/api/r\u00e4um", "/api/r%C3%A4um"),
        ("/" + "a" * 2047, "/" + "a" * 2047),
    ],
)
def test_paths_on_this_site_are_redirected_to(value: str | None, expected: str) -> None:
    assert safe_redirect(value, "/default") == expected


# Each value as the host sees it after the one decoding a query string or form gets (so
# "/\t/evil" is what `?post_logout_redirect_uri=/%09/evil` arrives as).
HOSTILE_REDIRECTS = [
    "/\t/evil.example/phish",  # Chromium drops the tab and reads //evil.example/phish
    "/\t\\evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/a\r\nSet-Cookie: x=1",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",  # NEL, a C1 control
    "/ /evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/api/index\\..\\x",  # a backslash anywhere
    "/%5Cevil.example",  # a backslash after decoding
    "/%5cevil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%252F%252Fevil.example",  # encoded twice
    "/%25252Fevil.example",  # encoded three times
    "/%255Cevil.example",
    "/%2509/evil.example",
    "https://evil.example/",
    "HTTPS://evil.example/",
    "http:evil.example",
    "http:/evil.example",
    "evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " /api/index",
    "/api/index ",
    "/\u3000/evil.example",  # ideographic space
    "/\u00a0/evil.example",  # no-break space
    "/\u2028/evil.example",  # line separator
    "/\u2029/evil.example",
    "/\u200b/evil.example",  # zero-width space (a format character)
    "/\ufeff/evil.example",
    "/\u202e/evil.example",  # right-to-left override
    "/%E3%80%80/evil.example",  # ideographic space, encoded
    "/%C2%A0/evil.example",
    "/\ud800/evil.example",  # a lone surrogate cannot go into a header
    "/" + "a" * 2048,
    "/%" + "25" * 20 + "2F/evil.example",  # a slash encoded 21 times
]


@pytest.mark.parametrize("value", HOSTILE_REDIRECTS)
def test_anything_but_a_plain_path_on_this_site_is_refused(value: str) -> None:
    assert safe_redirect(value, "/default") is None


def test_nonces() -> None:
    nonce = new_nonce(KEY, NOW)
    assert nonce_is_valid(nonce, KEY, NOW)
    assert nonce_is_valid(nonce, KEY, NOW + 599)
    assert not nonce_is_valid(nonce, KEY, NOW + 600)  # expired
    assert not nonce_is_valid(nonce, b"other" * 8, NOW)
    expires, _, rest = nonce.partition(".")
    assert not nonce_is_valid(f"{int(expires) + 1000}.{rest}", KEY, NOW)  # extended by hand
    for bad in (None, "", ".", "x.y", "1" * 20 + ".a", "..", f"{expires}..", f"{expires}.a.b"):
        assert not nonce_is_valid(bad, KEY, NOW)


def test_every_form_gets_its_own_nonce() -> None:
    """Two forms served in the same second differ, so using one cannot use up the other."""
    assert new_nonce(KEY, NOW) != new_nonce(KEY, NOW)


def test_a_nonce_signs_in_only_with_its_own_cookie_once_and_before_it_expires() -> None:
    ledger = NonceLedger()
    mine, theirs = new_nonce(KEY, NOW), new_nonce(KEY, NOW)
    assert not nonce_accepted(mine, None, KEY, NOW, ledger)  # fetched without its cookie
    assert not nonce_accepted(mine, "", KEY, NOW, ledger)
    assert not nonce_accepted(None, mine, KEY, NOW, ledger)
    assert not nonce_accepted(theirs, mine, KEY, NOW, ledger)  # both ours, not a pair
    assert not nonce_accepted(mine, mine, KEY, NOW + 600, ledger)  # expired
    assert not nonce_accepted("1.a.b", "1.a.b", KEY, NOW, ledger)  # not issued here
    assert nonce_accepted(mine, mine, KEY, NOW, ledger)
    assert not nonce_accepted(mine, mine, KEY, NOW + 1, ledger)  # single use
    assert nonce_accepted(theirs, theirs, KEY, NOW + 1, ledger)


def test_a_full_ledger_refuses_until_used_nonces_expire() -> None:
    ledger = NonceLedger(capacity=2)
    first, second, third = (new_nonce(KEY, NOW) for _ in range(3))
    assert nonce_accepted(first, first, KEY, NOW, ledger)
    assert nonce_accepted(second, second, KEY, NOW, ledger)
    # Forgetting a used nonce early would let it be replayed: refuse instead.
    assert not nonce_accepted(third, third, KEY, NOW, ledger)
    later = new_nonce(KEY, NOW + 600)
    assert nonce_accepted(later, later, KEY, NOW + 600, ledger)  # the first two expired
    assert len(ledger) == 1


@pytest.mark.parametrize(
    ("origin", "fetch_site", "accepted"),
    [
        ("http://127.0.0.1:7071", None, True),
        ("http://127.0.0.1:7071", "same-origin", True),
        ("HTTP://127.0.0.1:7071", None, True),
        (None, "same-origin", True),
        # No Origin and no Sec-Fetch-Site: not a browser, so not a victim (the nonce still binds).
        (None, None, True),
        ("http://evil.example", None, False),
        ("http://127.0.0.1:7072", None, False),  # another port is the same site, not origin
        ("http://localhost:7071", None, False),
        ("https://127.0.0.1:7071", None, False),
        ("http://127.0.0.1", None, False),
        ("http://127.0.0.1:7071/", None, False),
        ("http://user@127.0.0.1:7071", None, False),
        ("http://127.0.0.1:7071.evil.example", None, False),
        ("http://127.0.0.1:99999", None, False),
        ("null", None, False),  # sandboxed frames, data: URLs, no-referrer pages
        ("null", "same-origin", False),
        ("", None, False),
        ("http://127.0.0.1:7071", "cross-site", False),
        ("http://127.0.0.1:7071", "same-site", False),
        (None, "cross-site", False),
        (None, "same-site", False),
        (None, "none", False),
    ],
)
def test_only_a_post_from_this_origin_signs_in(
    origin: str | None, fetch_site: str | None, accepted: bool
) -> None:
    assert post_is_same_origin(origin, fetch_site, "http", "127.0.0.1:7071") is accepted


def test_the_origin_check_normalises_the_default_port() -> None:
    assert post_is_same_origin("http://localhost", None, "http", "LOCALHOST:80")
    assert post_is_same_origin("https://chat.example", None, "https", "chat.example")
    assert not post_is_same_origin("http://chat.example", None, "https", "chat.example")
    assert not post_is_same_origin("http://chat.example", None, "http", "")
