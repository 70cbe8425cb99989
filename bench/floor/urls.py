from django.urls import path

from bench.floor.views import FloorView

urlpatterns = [path("floor", FloorView.as_view(), name="floor")]
