"""Test-only URLs (never in production): views that fail on purpose, beside the real ones.

Tests point ROOT_URLCONF here with override_settings; the production urls.py has no such path.
"""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from psycopg.errors import QueryCanceled
from rest_framework.request import Request
from rest_framework.views import APIView

from dispatch_site.urls import urlpatterns as real_urlpatterns

SECRET_LOOKING = "secret-ish detail from /srv/app/dispatch_site/settings.py DATABASES password=hunter2"


class OpenApiView(APIView):
    authentication_classes = ()  # reach the failure whatever the API's default access control is
    permission_classes = ()
    throttle_classes = ()


class CrashingApiView(OpenApiView):
    def get(self, request: Request) -> HttpResponse:
        raise RuntimeError(SECRET_LOOKING)


def crashing_page(request: HttpRequest) -> HttpResponse:
    raise KeyError(SECRET_LOOKING)


class DatabaseDownApiView(OpenApiView):
    def get(self, request: Request) -> HttpResponse:
        raise OperationalError(f'connection to server at "10.0.0.5", port 5432 failed: {SECRET_LOOKING}')


class StatementTimeoutApiView(OpenApiView):
    def get(self, request: Request) -> HttpResponse:
        try:
            raise QueryCanceled("canceling statement due to statement timeout")
        except QueryCanceled as exc:
            raise OperationalError("canceling statement due to statement timeout") from exc


def database_down_page(request: HttpRequest) -> HttpResponse:
    raise OperationalError(f"couldn't get a connection after 3.00 sec: {SECRET_LOOKING}")


urlpatterns = [
    path("crash/api", CrashingApiView.as_view()),
    path("crash/page", crashing_page),
    path("crash/db-api", DatabaseDownApiView.as_view()),
    path("crash/db-page", database_down_page),
    path("crash/db-slow", StatementTimeoutApiView.as_view()),
    *real_urlpatterns,
]

handler404 = "dispatch_site.views.not_found"
handler500 = "dispatch_site.views.server_error"
