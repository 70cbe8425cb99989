"""The product's URLs plus /bench/baseline, the floor dispatch is measured against (bench/baseline.py)."""

from django.urls import path

from bench.baseline import BaselineView
from dispatch_site.urls import handler404, handler500
from dispatch_site.urls import urlpatterns as product_urlpatterns

urlpatterns = [path("bench/baseline", BaselineView.as_view(), name="bench-baseline"), *product_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
