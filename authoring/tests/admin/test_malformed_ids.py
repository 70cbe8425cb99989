"""A malformed id in any admin URL is "no such object" (404 or Django's redirect), never a 500
(issue 18, finding 7: `/admin/policies/dispatchpolicy/not-a-uuid/history/` was a 500)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from common.history_admin import HistoryAdmin
from policies.models import DispatchPolicy

pytestmark = pytest.mark.django_db

MALFORMED = ["not-a-uuid", "12345678-1234", "%3Cscript%3E", "99999999999999999999999"]


def _admin_bases() -> dict[str, HistoryAdmin]:
    return {
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/": model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, HistoryAdmin)
    }


@pytest.fixture
def staff_browser(staff_client):
    """The administrator, as a browser: exceptions become the 500 a user would see."""
    staff_client.raise_request_exception = False
    return staff_client


def test_every_history_admin_is_covered():
    bases = _admin_bases()
    assert "/admin/policies/dispatchpolicy/" in bases
    assert "/admin/providers/modelprovider/" in bases
    assert "/admin/teachers/teacherprofile/" in bases


@pytest.mark.parametrize("bad", MALFORMED)
def test_history_and_revert_urls_with_a_malformed_id_are_404(staff_browser, bad):
    policy = DispatchPolicy.objects.order_by("name").first()
    assert policy is not None
    version = policy.history.first().history_id
    for base in _admin_bases():
        for path in (f"{bad}/history/", f"{bad}/history/1/", f"{bad}/history/compare/"):
            response = staff_browser.get(base + path, HTTP_ACCEPT="text/html")
            assert response.status_code == 404, (base + path, response.status_code)
    for path in (f"{policy.pk}/history/{bad}/", f"{bad}/history/{version}/"):
        response = staff_browser.get("/admin/policies/dispatchpolicy/" + path, HTTP_ACCEPT="text/html")
        assert response.status_code == 404, path
    assert staff_browser.get(f"/admin/policies/dispatchpolicy/{policy.pk}/history/").status_code == 200
    assert staff_browser.get(f"/admin/policies/dispatchpolicy/{policy.pk}/history/{version}/").status_code == 200


@pytest.mark.parametrize("bad", MALFORMED)
def test_change_and_delete_with_a_malformed_id_are_not_server_errors(staff_browser, bad):
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for path in (f"{bad}/change/", f"{bad}/delete/", f"{bad}/history/"):
            status = staff_browser.get(base + path, HTTP_ACCEPT="text/html").status_code
            assert status in (302, 403, 404), (base + path, status)


def test_the_404_is_the_sites_page_not_json(staff_browser):
    response = staff_browser.get("/admin/policies/dispatchpolicy/not-a-uuid/history/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_signed_out_the_malformed_history_url_asks_to_log_in():
    response = Client().get("/admin/policies/dispatchpolicy/not-a-uuid/history/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
