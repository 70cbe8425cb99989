"""API access control: who calls (`Authorization: Api-Key <key>` authentication), what they may
do (per-view scopes), and how often (the per-client rate). DRF's classes for all three.

These are the project's DEFAULT_AUTHENTICATION_CLASSES / DEFAULT_PERMISSION_CLASSES, so every
API view is protected unless it opts out. A view names the scope it needs in a `required_scope`
class attribute; a view without one refuses every API client (fail closed). Staff users with a
Django session (administrators) may use a scope only with its Django permission
(`clients.models.SCOPE_PERMISSIONS`, e.g. `clients.use_dispatch_api`; superusers hold all); a view
without a scope is for superusers only. Other users (teachers) may not use the API.

Outcomes: no key or a key that is unknown or revoked -> 401 (with WWW-Authenticate); a key sent
as `Bearer <key>` or in an `X-API-Key` header -> 401 `wrong_auth_scheme` saying how to send it; a key
without the view's scope -> 403 `missing_scope` naming it; a staff session without the scope's
permission -> 403 `missing_permission` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from clients.keys import BudgetTerms, ClientPrincipal, KeyRejected, principal_for_key
from clients.models import SCOPE_PERMISSIONS
from clients.rates import RateError, rate_parse
from common.counters import DeferredHit, counter_hit

SCHEME = "Api-Key"


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"


class WrongAuthScheme(exceptions.AuthenticationFailed):
    """A key sent the way other APIs take theirs (Bearer, X-API-Key): 401, saying how to send it."""

    default_code = "wrong_auth_scheme"


# Ways other APIs take a key; a request using one gets the hint instead of "not provided".
_KEY_HEADERS = {"HTTP_X_API_KEY": "an X-API-Key", "HTTP_API_KEY": "an Api-Key", "HTTP_X_API_TOKEN": "an X-API-Token"}
_OTHER_SCHEMES = {"bearer", "token", "apikey", "api_key", "key"}


def _wrong_scheme(request: Request, scheme: str) -> str | None:
    """How the key was sent, when it looks like a key sent the wrong way; None otherwise."""
    if scheme and scheme.lower() in _OTHER_SCHEMES:
        return f"the {scheme} scheme"
    if not scheme:
        for name, header in _KEY_HEADERS.items():
            if request.META.get(name):
                return f"{header} header"
    return None


class MissingScope(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "missing_scope"

    def __init__(self, scope: str):
        super().__init__(f"This API key lacks the {scope!r} scope this request needs.")


class MissingPermission(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "missing_permission"

    def __init__(self, scope: str, permission: str):
        super().__init__(
            f"This staff account lacks the permission {permission!r} that the {scope!r} scope needs "
            "(an administrator grants it in admin: Users or Groups)."
        )


class StaffOnly(exceptions.PermissionDenied):
    pass


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ClientPrincipal, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != SCHEME.lower():
            sent_as = _wrong_scheme(request, scheme)
            if sent_as is not None:
                raise WrongAuthScheme(
                    f"Send the API key as: Authorization: {SCHEME} <key> (this request used {sent_as})."
                )
            return None  # no key (or another scheme): the permission check answers 401
        key = key.strip()
        if not key or " " in key:
            raise InvalidApiKey("Send the key as: Authorization: Api-Key <key>.")
        try:
            principal = principal_for_key(key)
        except KeyRejected as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return principal, principal.name

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="api"'


def _staff(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_active", False) and getattr(user, "is_staff", False))


def _staff_require(user: Any, scope: str | None) -> None:
    """Raise 403 unless the staff `user` holds the permission of `scope` (no scope: superusers only)."""
    if scope is None:
        if not user.is_superuser:
            raise StaffOnly("This endpoint is for superusers.")
        return
    permission = SCOPE_PERMISSIONS.get(scope, f"clients.use_{scope}_api")
    if not user.has_perm(permission):
        raise MissingPermission(scope, permission)


class HasRequiredScope(BasePermission):
    """Allows an API client holding the view's `required_scope`, or an active staff user holding
    that scope's permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        scope = getattr(view, "required_scope", None)
        if isinstance(user, ClientPrincipal):
            if scope is None:
                raise StaffOnly("This endpoint is not open to API clients.")
            if not user.has_scope(scope):
                raise MissingScope(scope)
            return True
        if user is not None and getattr(user, "is_authenticated", False):
            if _staff(user):
                _staff_require(user, scope)
                return True
            raise StaffOnly("This endpoint is for API clients and administrators.")
        return False  # DRF answers 401 with WWW-Authenticate


def require_scope(request: Request, scope: str) -> None:
    """Raise 403 unless the caller may use `scope` (an extra scope some requests need)."""
    user = request.user
    if isinstance(user, ClientPrincipal):
        if not user.has_scope(scope):
            raise MissingScope(scope)
    elif _staff(user):
        _staff_require(user, scope)
    else:
        raise MissingScope(scope)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes an authenticated API request, as the services need it."""

    client_ref: str  # what the audit log records (`client_ref`)
    acting_client_id: int | None  # the API client, whose teacher authorisations bound its overrides; None for staff
    client_hit: DeferredHit | None  # the request's deferred rate count (see below), counted by dispatch
    budget: BudgetTerms | None = None  # the API client's spend budget, if it has one


def request_caller(request: Request, *, scope: str | None = None) -> Caller:
    """The request's caller; with `scope`, only if it may also use that scope (else 403, as
    `require_scope`: e.g. `override` on POST /dispatch). A staff session has no `acting_client_id`:
    its override permission covers any teacher."""
    if scope is not None:
        require_scope(request, scope)
    user = request.user
    return Caller(
        client_ref=client_ref(request),
        acting_client_id=user.id if isinstance(user, ClientPrincipal) else None,
        client_hit=client_hit(request),
        budget=user.budget if isinstance(user, ClientPrincipal) else None,
    )


def client_ref(request: Request) -> str:
    """Who the audit log says made the request: the client's name, or `staff:<username>`."""
    user = request.user
    if isinstance(user, ClientPrincipal):
        return user.name
    if _staff(user):
        return f"staff:{user.get_username()}"[:64]
    return ""


# --- the per-client rate ------------------------------------------------------------------------
# Per-client rate limits: a DRF throttle over an atomic shared counter (see common.counters).
#
# The rate is the client's own (`ApiClient.rate`, set in admin) or API_CLIENT_DEFAULT_RATE. With
# Redis (REDIS_URL) the count is shared by every worker and instance and exact (one Lua script
# per request, no read-then-write race); without it each process counts on its own.
# Requests from staff sessions and unauthenticated requests (401 before this runs) are not counted.
#
# A view with `defers_client_hit = True` (POST /dispatch) has its request counted later, in the
# same Redis round trip as the provider reservation: the throttle attaches a `DeferredHit` to the
# request (`client_hit(request)`), dispatch counts it and answers 429 when it is over the rate, and
# `client_hit_settle` counts whatever a request ended without counting (a 400, a 403), so every
# request is counted exactly once, as with the throttle.

_ATTRIBUTE = "deferred_client_hit"


class ClientRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, ClientPrincipal):
            return True
        try:
            limit, period = rate_parse(user.rate or settings.API_CLIENT_DEFAULT_RATE)
        except RateError:
            limit, period = rate_parse(settings.API_CLIENT_DEFAULT_RATE)
        if getattr(view, "defers_client_hit", False):
            setattr(request, _ATTRIBUTE, DeferredHit(f"client:{user.id}", limit=limit, period=period))
            return True
        hit = counter_hit(f"client:{user.id}", period=period)
        if hit.count <= limit:
            return True
        self._wait = hit.retry_after
        return False

    def wait(self) -> float | None:
        return self._wait


def client_hit(request: Request) -> DeferredHit | None:
    """The request's deferred count (a view with `defers_client_hit`, an API client), else None."""
    deferred: DeferredHit | None = getattr(request, _ATTRIBUTE, None)
    return deferred


def client_hit_settle(request: Request) -> None:
    """Count the request now if it ended before dispatch counted it (bad input, missing scope)."""
    deferred = client_hit(request)
    if deferred is not None:
        deferred.settle()
