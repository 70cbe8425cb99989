"""The product's URLs: the REST API, the admin (with the audit dashboard), the teacher pages,
/metrics, the health checks and the home page. The bench mounts its own URLconf (bench.urls)."""

from django.contrib import admin
from django.urls import include, path

from audit import views as audit_views
from dispatch_site import health, views

urlpatterns = [
    path("", include("api.urls")),
    path("metrics", audit_views.metrics, name="metrics"),
    path("admin/audit/dashboard/", audit_views.dashboard, name="audit-dashboard"),
    path("admin/audit/dashboard/chart.csv", audit_views.dashboard_csv, name="audit-dashboard-csv"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("teacher_pages.urls")),
    path("", views.home, name="home"),
]

handler404 = "dispatch_site.views.not_found"
handler500 = "dispatch_site.views.server_error"
