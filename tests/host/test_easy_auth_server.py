"""The emulated App Service Authentication, through real HTTP to an in-process host."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from devstack.host.easy_auth import COOKIE, NONCE_COOKIE, NONCE_SECONDS, Config
from devstack.host.easy_auth_routes import EasyAuth
from devstack.host.invoker import Invoker
from devstack.host.server import create_app
from tests.host.helpers import FIXTURE_APPS, load_fixture
from tests.host.test_easy_auth import HOSTILE_REDIRECTS
from tests.support.raw_http import connect, read_response, request

FORGED = {
    "X-MS-CLIENT-PRINCIPAL-NAME": "mallory",
    "X-MS-CLIENT-PRINCIPAL-ID": "1",
    "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    "X-MS-CLIENT-PRINCIPAL": "eyJhdXRoX3R5cCI6ImFhZCJ9",
    "X-MS-TOKEN-AAD-ACCESS-TOKEN": "forged",
}


@dataclass
class AuthHost:
    base_url: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, **kwargs) -> tuple[int, dict, bytes]:
        async with self.session.request(
            method, self.base_url + path, allow_redirects=False, **kwargs
        ) as response:
            return response.status, dict(response.headers), await response.read()

    async def nonce(self, provider: str = "aad") -> str:
        """The nonce of this host's sign-in form, as a browser would submit it."""
        status, _, page = await self.call("GET", f"/.auth/login/{provider}")
        assert status == 200
        found = re.search(rb'name="nonce" value="([^"]+)"', page)
        assert found, page
        return found.group(1).decode()

    async def post_form(self, provider: str, form: dict) -> tuple[int, dict, bytes]:
        data = {"nonce": await self.nonce(provider), **form}
        return await self.call("POST", f"/.auth/login/{provider}/callback", data=data)

    async def sign_in(
        self, provider: str, name: str, redirect: str = "/api/echo/x", **more
    ) -> dict:
        status, headers, _ = await self.post_form(
            provider, {"name": name, "post_login_redirect_uri": redirect, **more}
        )
        assert status == 302, headers
        return headers

    async def seen_headers(self, **kwargs) -> dict[str, str]:
        status, _, body = await self.call("GET", "/api/echo/x", **kwargs)
        assert status == 200
        return json.loads(body)["headers"]


async def _start(config: Config, auth: EasyAuth | None = None) -> AsyncIterator[AuthHost]:
    executor = ThreadPoolExecutor(max_workers=2)
    auth = auth or EasyAuth(config)
    app = create_app(load_fixture("basic"), Invoker(FIXTURE_APPS, executor), auth=auth)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    # unsafe=True: keep cookies for an IP-address host, as a browser does for localhost.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield AuthHost(f"http://127.0.0.1:{port}", session)
    await runner.cleanup()
    executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
async def host() -> AsyncIterator[AuthHost]:
    async for started in _start(Config()):
        yield started


@pytest.fixture
async def strict_host() -> AsyncIterator[AuthHost]:
    config = Config(unauthenticated_action="Return401", excluded_paths=("/api/plain",))
    async for started in _start(config):
        yield started


async def test_login_form(host: AuthHost) -> None:
    status, headers, body = await host.call(
        "GET", "/.auth/login/github?post_login_redirect_uri=/api/index"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    page = body.decode()
    assert "Sign in with GitHub" in page
    assert 'action="/.auth/login/github/callback"' in page
    assert 'value="/api/index"' in page


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/.auth/login/myspace", 404),
        ("/.auth/login/google", 404),  # not configured here
        ("/.auth/login/aad?post_login_redirect_uri=https://evil.example/", 400),
        ("/.auth/login/aad?post_login_redirect_uri=//evil.example/", 400),
        ("/.auth/nothing", 404),
        ("/.auth/logout?post_logout_redirect_uri=https://evil.example/", 400),
    ],
)
async def test_endpoint_refusals(host: AuthHost, path: str, status: int) -> None:
    assert (await host.call("GET", path))[0] == status


async def test_sign_in_sets_a_session_cookie_and_redirects(host: AuthHost) -> None:
    headers = await host.sign_in("aad", "alice@contoso.com", "/api/index?room=a")
    assert headers["Location"] == "/api/index?room=a"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


async def test_signed_in_requests_carry_the_principal_and_drop_forged_ones(host: AuthHost) -> None:
    await host.sign_in("aad", "alice@contoso.com")
    seen = await host.seen_headers(headers=FORGED)
    assert seen["x-ms-client-principal-name"] == "alice@contoso.com"
    assert seen["x-ms-client-principal-idp"] == "aad"
    assert seen["x-ms-client-principal-id"] != "1"
    assert seen["x-ms-client-principal"] != FORGED["X-MS-CLIENT-PRINCIPAL"]
    assert "x-ms-token-aad-access-token" not in seen


async def test_anonymous_requests_get_no_principal_even_a_forged_one(host: AuthHost) -> None:
    seen = await host.seen_headers(headers=FORGED)
    assert not [name for name in seen if name.startswith("x-ms-client-principal")]
    assert "x-ms-token-aad-access-token" not in seen


async def test_a_forged_session_cookie_is_ignored(host: AuthHost) -> None:
    seen = await host.seen_headers(headers={"Cookie": f"{COOKIE}=eyJpZHAiOiJhYWQifQ.AAAA"})
    assert "x-ms-client-principal-name" not in seen


async def test_me_and_logout(host: AuthHost) -> None:
    assert (await host.call("GET", "/.auth/me"))[0] == 401
    await host.sign_in("github", "octocat", id="583231", roles="admin")
    status, _, body = await host.call("GET", "/.auth/me")
    assert status == 200
    [entry] = json.loads(body)
    assert (entry["provider_name"], entry["user_id"]) == ("github", "octocat")
    assert {
        "typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
        "val": "583231",
    } in entry["user_claims"]
    assert (await host.call("GET", "/.auth/refresh"))[0] == 200

    status, headers, _ = await host.call("GET", "/.auth/logout?post_logout_redirect_uri=/api/index")
    assert (status, headers["Location"]) == (302, "/api/index")
    assert headers["Set-Cookie"].startswith(f'{COOKIE}=""')
    assert (await host.call("GET", "/.auth/me"))[0] == 401
    assert (await host.call("GET", "/.auth/refresh"))[0] == 401
    assert "x-ms-client-principal-name" not in await host.seen_headers()


async def test_logout_without_a_target_lands_on_the_done_page(host: AuthHost) -> None:
    status, headers, _ = await host.call("GET", "/.auth/logout")
    assert (status, headers["Location"]) == (302, "/.auth/logout/complete")
    status, _, body = await host.call("GET", "/.auth/logout/complete")
    assert status == 200 and b"signed out" in body


@pytest.mark.parametrize(
    ("form", "status", "shown"),
    [
        ({"name": ""}, 400, "Enter the user name"),
        ({"name": "a\nb"}, 400, "one line"),
        ({"name": "<script>alert(1)</script>", "id": '"><b>'}, 302, None),
    ],
)
async def test_form_errors_are_shown_on_the_form(
    host: AuthHost, form: dict, status: int, shown: str | None
) -> None:
    code, _, body = await host.post_form("aad", form)
    assert code == status
    if shown:
        assert shown in body.decode()
        assert b"<script>" not in body


async def test_an_oversized_form_is_refused(host: AuthHost) -> None:
    status, _, _ = await host.post_form("aad", {"name": "x" * 20_000})
    assert status == 413


async def test_markup_in_a_rejected_form_is_escaped(host: AuthHost) -> None:
    _, _, body = await host.post_form("aad", {"name": "", "id": '"><script>x</script>'})
    assert b"<script>x" not in body
    assert b"&lt;script&gt;" in body


async def test_return401_refuses_without_a_session_except_excluded_paths(
    strict_host: AuthHost,
) -> None:
    assert (await strict_host.call("GET", "/api/echo/x"))[0] == 401
    assert (await strict_host.call("GET", "/api/plain"))[0] == 200
    assert (await strict_host.call("GET", "/admin/host/status"))[0] == 200
    assert (await strict_host.call("GET", "/.auth/login/aad"))[0] == 200
    await strict_host.sign_in("aad", "alice")
    assert (await strict_host.call("GET", "/api/echo/x"))[0] == 200


async def test_without_the_emulation_there_are_no_auth_endpoints(basic_host) -> None:
    async with basic_host.session.get(basic_host.base_url + "/.auth/me") as response:
        assert response.status == 404


@pytest.fixture
async def azure_like_host() -> AsyncIterator[AuthHost]:
    """The deployment's settings: redirect the page, 401 for scripts, the webhook excluded."""
    config = Config(
        providers=("aad",),
        unauthenticated_action="RedirectToLoginPage",
        excluded_paths=("/api/plain",),
    )
    async for started in _start(config):
        yield started


async def test_redirect_to_login_page_for_pages_401_for_scripts(azure_like_host: AuthHost) -> None:
    status, headers, _ = await azure_like_host.call("GET", "/api/echo/x?room=a")
    assert status == 302
    assert headers["Location"] == "/.auth/login/aad?post_login_redirect_uri=/api/echo/x%3Froom%3Da"
    status, _, _ = await azure_like_host.call(
        "GET", "/api/echo/x", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert status == 401
    assert (await azure_like_host.call("GET", "/api/plain"))[0] == 200
    status, _, body = await azure_like_host.call("GET", headers["Location"])
    assert status == 200 and b"Sign in with Microsoft Entra ID" in body


@pytest.mark.parametrize("nonce", [None, "", "9999999999.AAAA", "1.xyz", "not-a-nonce"])
async def test_a_sign_in_not_started_from_our_form_is_refused(host: AuthHost, nonce) -> None:
    """A cross-site form post (login CSRF) carries no valid nonce: no session is made."""
    form = {"name": "mallory"} if nonce is None else {"name": "mallory", "nonce": nonce}
    status, headers, _ = await host.call("POST", "/.auth/login/aad/callback", data=form)
    assert status == 403
    assert "Set-Cookie" not in headers
    assert (await host.call("GET", "/.auth/me"))[0] == 401


async def test_a_nonce_from_another_host_is_refused(host: AuthHost) -> None:
    async for other in _start(Config()):
        foreign = await other.nonce()
    status, _, _ = await host.call(
        "POST", "/.auth/login/aad/callback", data={"name": "x", "nonce": foreign}
    )
    assert status == 403


async def test_endpoint_paths_are_case_insensitive(host: AuthHost) -> None:
    assert (await host.call("GET", "/.AUTH/Login/AAD"))[0] == 200
    assert (await host.call("GET", "/.Auth/ME"))[0] == 401


# --- issue 15, item 4: redirects only to a plain path on this site -----------------------------


def _raw(path_and_query: str) -> URL:
    """A URL sent exactly as written: no client re-encoding of %09, %5C and the like."""
    return URL(path_and_query, encoded=True)


async def call_raw(host: AuthHost, path_and_query: str) -> tuple[int, dict, bytes]:
    async with host.session.get(
        URL(host.base_url).join(_raw(path_and_query)), allow_redirects=False
    ) as response:
        return response.status, dict(response.headers), await response.read()


# As an attacker would put them in a link: percent-encoded once on the wire.
HOSTILE_ON_THE_WIRE = [
    "/%09/evil.example/phish",
    "/%09%5Cevil.example",
    "/%0A/evil.example",
    "/%0D/evil.example",
    "/%0D%0ASet-Cookie:%20x=1",
    "//evil.example/phish",
    "/%5Cevil.example",
    "/%255Cevil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%25252F/evil.example",
    "https://evil.example/",
    "https:%2F%2Fevil.example",
    "javascript:alert(1)",
    "/%E3%80%80/evil.example",
    "/%E2%80%A8/evil.example",
    "/%C2%A0/evil.example",
    "/%00/evil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE_ON_THE_WIRE)
@pytest.mark.parametrize(
    "endpoint",
    ["/.auth/logout?post_logout_redirect_uri=", "/.auth/login/aad?post_login_redirect_uri="],
)
async def test_hostile_redirect_parameters_are_refused(
    host: AuthHost, endpoint: str, target: str
) -> None:
    await host.sign_in("aad", "alice")
    status, headers, body = await call_raw(host, endpoint + target)
    assert status == 400, headers.get("Location")
    assert "Location" not in headers
    assert b"must be a path on this site" in body
    # A refused sign-out signs no one out and a refused form issues no nonce.
    assert "Set-Cookie" not in headers
    assert (await host.call("GET", "/.auth/me"))[0] == 200


def _can_be_sent(value: str) -> bool:
    # A lone surrogate cannot be encoded into a form body (the unit table covers it).
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("target", [v for v in HOSTILE_REDIRECTS if _can_be_sent(v)])
async def test_hostile_redirects_posted_with_the_form_are_refused(
    host: AuthHost, target: str
) -> None:
    status, headers, body = await host.post_form(
        "github", {"name": "alice", "post_login_redirect_uri": target}
    )
    assert status == 400, headers.get("Location")
    assert "Location" not in headers
    assert b"must be a path on this site" in body
    assert (await host.call("GET", "/.auth/me"))[0] == 401


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/api/index", "/api/index"),
        ("/api/index%3Froom%3Da", "/api/index?room=a"),
        ("/api/r%C3%A4um%23x", "/api/r%C3%A4um#x"),
    ],
)
async def test_a_plain_path_is_still_where_sign_out_goes(
    host: AuthHost, target: str, location: str
) -> None:
    status, headers, _ = await call_raw(host, f"/.auth/logout?post_logout_redirect_uri={target}")
    assert (status, headers["Location"]) == (302, location)


# --- issue 15, item 5: the nonce is bound to the browser that opened the form --------------------


async def fetched_elsewhere(base_url: str, provider: str = "aad") -> tuple[str, str]:
    """The nonce (and its cookie) an attacker gets with `curl /.auth/login/<provider>`."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as curl,
        curl.get(f"{base_url}/.auth/login/{provider}") as response,
    ):
        assert response.status == 200
        page = await response.text()
        cookie = response.cookies.get(NONCE_COOKIE)
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found
    return found.group(1), cookie.value if cookie else ""


async def test_the_form_sets_a_nonce_cookie_scoped_to_its_callback(host: AuthHost) -> None:
    status, headers, page = await host.call("GET", "/.auth/login/GitHub")
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{NONCE_COOKIE}=")
    nonce = re.search(rb'name="nonce" value="([^"]+)"', page)
    assert nonce and f"{NONCE_COOKIE}={nonce.group(1).decode()};" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/.auth/login/github/callback" in cookie
    assert f"Max-Age={NONCE_SECONDS}" in cookie
    # The form's own page must let the browser send its origin with the post.
    assert headers["Referrer-Policy"] == "same-origin"


async def test_a_nonce_fetched_elsewhere_does_not_sign_in_a_browser_without_its_cookie(
    host: AuthHost,
) -> None:
    """Login CSRF: an attacker's nonce posted from the victim's browser, without its cookie."""
    nonce, _ = await fetched_elsewhere(host.base_url)
    status, headers, body = await host.call(
        "POST", "/.auth/login/aad/callback", data={"name": "mallory", "nonce": nonce}
    )
    assert status == 403, headers
    assert b"start again" in body
    assert COOKIE not in headers.get("Set-Cookie", "")
    assert (await host.call("GET", "/.auth/me"))[0] == 401


async def test_a_nonce_fetched_elsewhere_does_not_match_the_browsers_own_cookie(
    host: AuthHost,
) -> None:
    await host.nonce()  # the victim opened the form once: the browser holds its own nonce cookie
    nonce, _ = await fetched_elsewhere(host.base_url)
    status, _, _ = await host.call(
        "POST", "/.auth/login/aad/callback", data={"name": "mallory", "nonce": nonce}
    )
    assert status == 403
    assert (await host.call("GET", "/.auth/me"))[0] == 401


async def test_a_nonce_and_its_cookie_sign_in_once(host: AuthHost) -> None:
    nonce, cookie = await fetched_elsewhere(host.base_url)
    form = {"name": "alice", "nonce": nonce}
    pair = {"Cookie": f"{NONCE_COOKIE}={cookie}"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        url = f"{host.base_url}/.auth/login/aad/callback"
        async with client.post(url, data=form, headers=pair, allow_redirects=False) as first:
            assert first.status == 302
            # Used up: the browser forgets it, and the host refuses it from now on.
            assert first.cookies[NONCE_COOKIE].value == ""
            assert first.cookies[NONCE_COOKIE]["path"] == "/.auth/login/aad/callback"
        async with client.post(url, data=form, headers=pair, allow_redirects=False) as replay:
            assert replay.status == 403


async def test_a_nonce_cookie_expires_with_its_nonce() -> None:
    now = [1_800_000_000.0]
    async for host in _start(Config(), EasyAuth(Config(), clock=lambda: now[0])):
        nonce = await host.nonce()
        now[0] += NONCE_SECONDS
        status, _, _ = await host.call(
            "POST", "/.auth/login/aad/callback", data={"name": "alice", "nonce": nonce}
        )
        assert status == 403


async def test_a_rejected_form_comes_back_with_a_fresh_nonce_and_cookie(host: AuthHost) -> None:
    status, headers, page = await host.post_form("aad", {"name": ""})
    assert status == 400
    assert headers["Set-Cookie"].startswith(f"{NONCE_COOKIE}=")
    nonce = re.search(rb'name="nonce" value="([^"]+)"', page)
    assert nonce
    status, headers, _ = await host.call(
        "POST",
        "/.auth/login/aad/callback",
        data={"name": "alice", "nonce": nonce.group(1).decode()},
    )
    assert status == 302
    assert (await host.call("GET", "/.auth/me"))[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},
        {"Origin": "https://{host}"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port on the same machine
        {"Origin": "http://{host}", "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_post_from_another_origin_is_refused(host: AuthHost, headers: dict) -> None:
    """Even with the browser's own nonce and cookie, as another port on localhost could send."""
    netloc = host.base_url.removeprefix("http://")
    sent = {name: value.format(host=netloc) for name, value in headers.items()}
    nonce = await host.nonce()
    status, answer, body = await host.call(
        "POST", "/.auth/login/aad/callback", data={"name": "mallory", "nonce": nonce}, headers=sent
    )
    assert status == 403, answer
    assert b"another site" in body
    assert (await host.call("GET", "/.auth/me"))[0] == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://{host}"},
        {"Origin": "http://{host}", "Sec-Fetch-Site": "same-origin"},
        {},  # not a browser: no Origin to check, the nonce cookie still binds
    ],
)
async def test_a_post_from_this_origin_signs_in(host: AuthHost, headers: dict) -> None:
    netloc = host.base_url.removeprefix("http://")
    sent = {name: value.format(host=netloc) for name, value in headers.items()}
    nonce = await host.nonce()
    status, _, _ = await host.call(
        "POST", "/.auth/login/aad/callback", data={"name": "alice", "nonce": nonce}, headers=sent
    )
    assert status == 302
    assert (await host.call("GET", "/.auth/me"))[0] == 200


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/api/plain/../echo/x", 401),  # an excluded path's name cannot carry a request past
        ("/api/echo/../plain", 200),  # the excluded path, reached through a dot segment
        ("/api/x/%2e%2e/../.auth/login/aad", 200),  # the sign-in form
    ],
)
async def test_sign_in_sees_the_path_routing_sees(
    strict_host: AuthHost, target: str, status: int
) -> None:
    """Dot segments are removed before sign-in looks at the path, as before routing, so the
    two never disagree about where a request goes. Raw bytes: aiohttp's client would
    normalise the path itself."""
    reader, writer = await connect(strict_host.base_url)
    try:
        writer.write(request("GET", target, "Connection: close"))
        assert (await read_response(reader)).status == status
    finally:
        writer.close()
