from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from audit import views as audit_views
from audit.api import views as audit_api
from dispatch_site import health, views
from policies.api import views as policy_api

urlpatterns = [
    path("dispatch", policy_api.DispatchView.as_view(), name="dispatch"),
    path("dispatch/<str:request_id>/outcome", audit_api.OutcomeView.as_view(), name="dispatch-outcome"),
    path("analytics", audit_api.AnalyticsView.as_view(), name="analytics"),
    path("metrics", audit_views.metrics, name="metrics"),
    path("admin/audit/dashboard/", audit_views.dashboard, name="audit-dashboard"),
    path("providers", policy_api.ProvidersView.as_view(), name="providers"),
    path("policies/validate", policy_api.ValidateView.as_view(), name="policies-validate"),
    path("coverage", policy_api.CoverageView.as_view(), name="coverage"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("teachers.urls")),
    path("", views.home, name="home"),
]

if settings.BENCH_BASELINE:  # `make bench` only (see bench/baseline.py)
    from bench.baseline import BaselineView

    urlpatterns.append(path("bench/baseline", BaselineView.as_view(), name="bench-baseline"))

handler404 = "dispatch_site.views.not_found"
handler500 = "dispatch_site.views.server_error"
