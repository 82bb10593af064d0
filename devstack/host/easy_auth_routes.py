"""The `/.auth/*` endpoints and the per-request gate of the emulated App Service Authentication.

Local stand-ins for what Azure serves in front of a Function app with authentication on:

* `GET /.auth/login/<provider>`: instead of the provider's page, a local form where you type
  the user name (and optionally the id and roles) the provider would report; its nonce also
  goes into a cookie (`AppServiceAuthNonce`) that only the callback gets back;
* `POST /.auth/login/<provider>/callback`: where the provider would send the browser back;
  only from this origin, with the form's nonce matching that cookie, once; sets the
  `AppServiceAuthSession` cookie and redirects to `post_login_redirect_uri`;
* `GET /.auth/me` (the JSON array, or 401), `GET /.auth/logout` (clears the cookie, then
  `post_logout_redirect_uri` or `/.auth/logout/complete`), `GET /.auth/refresh`.

devstack/host/server.py calls `EasyAuth.intercept` before routing and `EasyAuth.headers` to
build what a function sees. The pure rules live in devstack/host/easy_auth.py.
"""

from __future__ import annotations

import html
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from aiohttp import web

from devstack.host import easy_auth
from devstack.host.easy_auth import COOKIE, NONCE_COOKIE, NONCE_SECONDS, Config, FormError, Session

logger = logging.getLogger(__name__)

PREFIX = "/.auth/"
MAX_FORM_BYTES = 16 * 1024
PROVIDER_LABELS = {
    "aad": "Microsoft Entra ID",
    "github": "GitHub",
    "google": "Google",
    "facebook": "Facebook",
    "x": "X",
    "twitter": "X",
    "apple": "Apple",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it Chromium posts the form with `Origin: null`, which the callback
    # must refuse (an attacker's page can send that too). same-origin still tells other sites
    # nothing, the post_login_redirect_uri in this page's URL included.
    "Referrer-Policy": "same-origin",
}
_REDIRECT_REFUSED = "{} must be a path on this site: one leading /, no backslash, space or control"


def _page(status: int, title: str, body: str) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )
    return web.Response(
        status=status, text=document, content_type="text/html", headers=_PAGE_HEADERS
    )


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _refused_redirect(parameter: str) -> web.Response:
    # 400 rather than a quiet redirect to /: the link that sent it is wrong (or hostile), and
    # saying so is what a developer needs; a quiet fallback would hide it.
    return web.Response(status=400, text=_REDIRECT_REFUSED.format(parameter))


def _callback_path(idp: str) -> str:
    return f"/.auth/login/{idp}/callback"


def login_form(
    provider: str, redirect: str, nonce: str, error: str = "", values: Mapping[str, str] = {}
) -> str:
    label = html.escape(PROVIDER_LABELS.get(provider, provider))

    def value(name: str) -> str:
        return html.escape(values.get(name, ""), quote=True)

    alert = f'<p role="alert" id="error">{html.escape(error)}</p>' if error else ""
    return (
        f"<main><h1>Sign in with {label}</h1>"
        "<p>Local emulation of App Service Authentication: type the user the provider would "
        "report. Nothing leaves this machine.</p>"
        f"{alert}"
        f'<form method="post" action="{html.escape(_callback_path(provider))}">'
        f'<input type="hidden" name="post_login_redirect_uri" value="{html.escape(redirect)}">'
        f'<input type="hidden" name="nonce" value="{html.escape(nonce)}">'
        '<p><label for="name">User name</label><br>'
        f'<input id="name" name="name" required autocomplete="off" value="{value("name")}"></p>'
        '<p><label for="id">User id (optional; derived from the name when empty)</label><br>'
        f'<input id="id" name="id" autocomplete="off" value="{value("id")}"></p>'
        '<p><label for="roles">Roles (optional, comma-separated)</label><br>'
        f'<input id="roles" name="roles" autocomplete="off" value="{value("roles")}"></p>'
        f'<p><button type="submit" id="sign-in">Sign in</button></p>'
        "</form></main>"
    )


class EasyAuth:
    """One emulated App Service Authentication: the config and the cookie-signing key."""

    def __init__(
        self,
        config: Config,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        # A fresh key per host process: restarting the host signs everyone out.
        self._key = key or secrets.token_bytes(32)
        self._clock = clock
        self._used_nonces = easy_auth.NonceLedger()

    def session(self, request: web.Request) -> Session | None:
        return easy_auth.decode_cookie(request.cookies.get(COOKIE), self._key, self._clock())

    def headers(self, headers: Mapping[str, str], request: web.Request) -> dict[str, str]:
        """What the function sees: the caller's principal headers replaced by ours."""
        return easy_auth.forwarded_headers(headers, self.session(request))

    async def intercept(self, request: web.Request) -> web.StreamResponse | None:
        """Answer `/.auth/*` and unauthenticated callers; None lets the request through."""
        path = request.path
        if path.lower().startswith(PREFIX):
            # Paths are case-insensitive there, as everywhere in App Service.
            return await self._endpoint(request, path[len(PREFIX) :].lower())
        if self.session(request) is not None:
            return None
        lowered = {name.lower(): value for name, value in request.headers.items()}
        refusal = easy_auth.unauthenticated(self.config, request.raw_path, lowered)
        if refusal is None:
            return None
        if refusal.location:
            return _redirect(refusal.location)
        return web.Response(
            status=refusal.status, text="You do not have permission to view this directory or page."
        )

    async def _endpoint(self, request: web.Request, rest: str) -> web.StreamResponse:
        parts = rest.split("/")
        method = request.method
        if parts[0] == "login" and len(parts) == 2 and method == "GET":
            return self._form(request, parts[1])
        if parts[0] == "login" and len(parts) == 3 and parts[2] == "callback" and method == "POST":
            return await self._callback(request, parts[1])
        if rest == "me" and method == "GET":
            session = self.session(request)
            if session is None:
                return web.Response(status=401, text="not signed in")
            return web.json_response(easy_auth.me(session), headers={"Cache-Control": "no-store"})
        if rest == "refresh" and method == "GET":
            return web.Response(status=200 if self.session(request) else 401)
        if rest == "logout" and method == "GET":
            return self._logout(request)
        if rest in ("logout/complete", "logout/done") and method == "GET":
            return _page(200, "Signed out", "<main><h1>You have signed out.</h1></main>")
        return web.Response(status=404, text="no such App Service Authentication endpoint")

    def _provider(self, provider: str) -> str | None:
        lowered = provider.lower()
        return lowered if lowered in self.config.providers else None

    def _form(self, request: web.Request, provider: str) -> web.StreamResponse:
        idp = self._provider(provider)
        if idp is None:
            return web.Response(status=404, text=f"provider {provider[:40]!r} is not configured")
        redirect = easy_auth.safe_redirect(request.query.get("post_login_redirect_uri"), "/")
        if redirect is None:
            return _refused_redirect("post_login_redirect_uri")
        return self._with_nonce(request, idp, 200, redirect)

    def _with_nonce(
        self,
        request: web.Request,
        idp: str,
        status: int,
        redirect: str,
        error: str = "",
        values: Mapping[str, str] = {},
    ) -> web.Response:
        """The form with a fresh nonce, and the same nonce in a cookie for its callback only."""
        nonce = easy_auth.new_nonce(self._key, self._clock())
        response = _page(status, "Sign in", login_form(idp, redirect, nonce, error, values))
        # Strict: only this host's own pages send it back, never another site's post. The path
        # keeps it off every other request; the callback's path is the form's action verbatim.
        response.set_cookie(
            NONCE_COOKIE,
            nonce,
            path=_callback_path(idp),
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=NONCE_SECONDS,
        )
        return response

    async def _callback(self, request: web.Request, provider: str) -> web.StreamResponse:
        idp = self._provider(provider)
        if idp is None:
            return web.Response(status=404, text=f"provider {provider[:40]!r} is not configured")
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return web.Response(status=413, text="the sign-in form is too large")
        raw = b""
        while len(raw) <= MAX_FORM_BYTES and (
            chunk := await request.content.read(MAX_FORM_BYTES + 1 - len(raw))
        ):
            raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            return web.Response(status=413, text="the sign-in form is too large")
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if not easy_auth.post_is_same_origin(
            request.headers.get("Origin"),
            request.headers.get("Sec-Fetch-Site"),
            request.scheme,
            request.host,
        ):
            return web.Response(status=403, text="a sign-in posted from another site is refused")
        now = self._clock()
        if not easy_auth.nonce_accepted(
            form.get("nonce"), request.cookies.get(NONCE_COOKIE), self._key, now, self._used_nonces
        ):
            # As Easy Auth's nonce check, and bound to this browser: a sign-in must start from
            # this host's own form, opened in the browser that posts it, once.
            return web.Response(status=403, text="sign-in expired or not started here: start again")
        redirect = easy_auth.safe_redirect(form.get("post_login_redirect_uri"), "/")
        if redirect is None:
            return _refused_redirect("post_login_redirect_uri")
        try:
            session = easy_auth.session_from_form(idp, form, now, self.config)
        except FormError as error:
            return self._with_nonce(request, idp, 400, redirect, str(error), form)
        logger.info("Signed in a user with %s (local App Service Authentication)", idp)
        response = _redirect(redirect)
        response.set_cookie(
            COOKIE,
            easy_auth.encode_cookie(session, self._key),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.secure,
            max_age=self.config.session_seconds,
        )
        # Used up: the browser may forget it (the ledger refuses it anyway). After the session
        # cookie, which stays the first Set-Cookie, as before.
        response.del_cookie(
            NONCE_COOKIE,
            path=_callback_path(idp),
            secure=request.secure,
            httponly=True,
            samesite="Strict",
        )
        return response

    def _logout(self, request: web.Request) -> web.StreamResponse:
        redirect = easy_auth.safe_redirect(
            request.query.get("post_logout_redirect_uri"), "/.auth/logout/complete"
        )
        if redirect is None:
            # Refused whole: no redirect anywhere else, and the session is left as it was.
            return _refused_redirect("post_logout_redirect_uri")
        response = _redirect(redirect)
        response.del_cookie(COOKIE, path="/")
        return response
