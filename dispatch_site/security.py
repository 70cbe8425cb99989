"""Two small hardening middlewares: a Content-Security-Policy for our own pages, and a throttle
on the admin login against password guessing.

The admin login throttle counts failed logins (the form re-rendered: 200 to a POST) per client IP
and per username in the shared counters (Redis when configured). After ADMIN_LOGIN_MAX_FAILURES
failures in ADMIN_LOGIN_LOCKOUT_SECONDS, further POSTs for that IP or username answer 429 until
the window ends, whatever the password. Behind a proxy the IP is REMOTE_ADDR as the proxy sets it.

The username is counted as Django's login form reads it (`UsernameField`: stripped, then NFKC),
then lower-cased: every spelling that can log in as one account (in fullwidth letters, after
spaces) shares that account's count. Lower-casing only merges more spellings, never splits one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UsernameField
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import escape

from common.access_refusals import ANONYMOUS, access_refusal_record
from common.counters import counter_get, counter_hit


class ContentSecurityPolicyMiddleware:
    """Adds CONTENT_SECURITY_POLICY to HTML responses that do not set their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response and "html" in response.get("Content-Type", ""):
            response["Content-Security-Policy"] = policy
        return response


def login_username(raw: str) -> str:
    """The username a login form would authenticate `raw` as (AuthenticationForm's own field and
    length), lower-cased; at most the field's length (a longer one is refused by the form anyway)."""
    user_model = get_user_model()
    max_length = getattr(user_model._meta.get_field(user_model.USERNAME_FIELD), "max_length", None) or 254
    name = str(UsernameField(max_length=max_length).to_python(raw))
    return name[:max_length].lower()


def _login_keys(request: HttpRequest) -> list[str]:
    ip = request.META.get("REMOTE_ADDR", "") or "unknown"
    username = login_username(str(request.POST.get("username", "")))
    keys = [f"admin-login:ip:{ip}"]
    if username:
        keys.append(f"admin-login:user:{username}")
    return keys


class AdminLoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self._login_paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._login_paths is None:  # the admin's and the teachers' login pages share the counters
            self._login_paths = frozenset({reverse("admin:login"), reverse("teachers:login")})
        if request.method != "POST" or request.path not in self._login_paths:
            return self.get_response(request)
        keys = _login_keys(request)
        limit, window = settings.ADMIN_LOGIN_MAX_FAILURES, settings.ADMIN_LOGIN_LOCKOUT_SECONDS
        if any(counter_get(key) >= limit for key in keys):
            username = login_username(str(request.POST.get("username", "")))[:64]
            access_refusal_record(
                client=ANONYMOUS,
                who=f"{ANONYMOUS} (login as {username!r})",
                status=429,
                code="login_throttled",
                method=request.method,
                path=request.path,
                remote_addr=request.META.get("REMOTE_ADDR", ""),
            )
            minutes = max(1, window // 60)
            response = HttpResponse(
                "<!doctype html><title>Too many attempts</title>"
                f"<h1>Too many failed logins</h1><p>Try again in up to {escape(minutes)} minutes.</p>",
                status=429,
            )
            response["Retry-After"] = str(window)
            return response
        response = self.get_response(request)
        if response.status_code == 200:  # the login form again: the credentials were refused
            for key in keys:
                counter_hit(key, period=window)
        return response
