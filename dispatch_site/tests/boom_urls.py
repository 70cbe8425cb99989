"""The project's URLs plus one view that fails, to see what a client gets from an unhandled error."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from dispatch_site.urls import handler404, handler500, urlpatterns  # noqa: F401 - handlers used by Django


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-internal-detail")


urlpatterns = [path("boom", boom), *urlpatterns]
