"""The REST API's routes (included at the root by dispatch_site.urls; the names are the ones tests
and the schema use)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.analytics import AnalyticsView
from api.coverage import CoverageView
from api.dispatch import DispatchView
from api.outcome import OutcomeView
from api.providers import ProvidersHealthView, ProvidersView
from api.validate import ValidateView

urlpatterns = [
    path("dispatch", DispatchView.as_view(), name="dispatch"),
    path("dispatch/<str:request_id>/outcome", OutcomeView.as_view(), name="dispatch-outcome"),
    path("analytics", AnalyticsView.as_view(), name="analytics"),
    path("providers", ProvidersView.as_view(), name="providers"),
    path("providers/health", ProvidersHealthView.as_view(), name="providers-health"),
    path("policies/validate", ValidateView.as_view(), name="policies-validate"),
    path("coverage", CoverageView.as_view(), name="coverage"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]
