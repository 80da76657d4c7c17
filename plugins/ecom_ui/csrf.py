"""A token against cross-site request forgery for the page's one writing form (the hand-over button).

The page's forms post with the browser's cookies, so another site could make a signed-in browser post
"hand over" (and file tickets) without the user's intent. Every POST form of the page therefore
carries a token bound to the browser's session: an HMAC of the Airflow UI session cookie (``_token``)
or, where there is none (a token-only API client, the tests' app without auth), of the plugin's own
random cookie (``ecom_csrf``, HttpOnly, SameSite=Strict), set by the page. Another site can read
neither cookie, so it cannot compute the token. :func:`check` also refuses a POST whose ``Origin`` (or
``Referer``) names another origin. A POST with the wrong or no token is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response, status

AIRFLOW_COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
COOKIE = "ecom_csrf"
FIELD = "csrf_token"  # the hidden form field
PURPOSE = b"ecom-ui-form-post"


def _session(request: Request) -> str | None:
    return request.cookies.get(AIRFLOW_COOKIE) or request.cookies.get(COOKIE)


def token_for(session: str) -> str:
    """The form token of one session value."""
    return hmac.new(session.encode(), PURPOSE, hashlib.sha256).hexdigest()


def page_token(request: Request) -> tuple[str, str | None]:
    """The token the page's forms carry, and a new ``ecom_csrf`` cookie value when the browser has
    no session cookie yet (the page response sets it, :func:`set_cookie`)."""
    session = _session(request)
    fresh = None if session else secrets.token_urlsafe(32)
    return token_for(session or fresh or ""), fresh


def set_cookie(response: Response, value: str | None, path: str) -> None:
    """Set the plugin's session cookie (when :func:`page_token` made one)."""
    if value:
        response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path=path or "/")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin == "null":
        return False  # an opaque origin (a sandboxed frame, a data: page) is never the page itself
    claimed = origin or request.headers.get("referer")
    if not claimed:
        return True  # neither header (a privacy setting may drop both): the token still decides
    parts = urlsplit(claimed)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


def check_origin(request: Request) -> None:
    """Refuse (403) a POST whose ``Origin`` (or ``Referer``) names another site."""
    if not _same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "posted from another site")


def check(request: Request, form_token: str | None) -> None:
    """Refuse (403) a form POST from another origin or without this session's token."""
    check_origin(request)
    session = _session(request)
    if not session or not form_token or not hmac.compare_digest(token_for(session), form_token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the form's security token is missing or stale: reload the page"
        )
