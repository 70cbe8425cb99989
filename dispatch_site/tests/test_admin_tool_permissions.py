"""The dashboard, simulator and coverage map each need a model permission, and the admin index
links only what the user may open (issue 12, finding 7e)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db
TOOLS = {
    "/admin/audit/dashboard/": "audit.view_dispatchlog",
    "/admin/simulator/": "policies.view_dispatchpolicy",
    "/admin/coverage/": "policies.view_dispatchpolicy",
}


def grant(user, perm: str) -> None:
    app_label, codename = perm.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def test_each_tool_needs_its_permission_and_the_index_links_only_those(django_user_model):
    demo_world_load()
    staff = django_user_model.objects.create_user("clerk", password="clerk-password-1", is_staff=True)
    browser = Client()
    browser.login(username="clerk", password="clerk-password-1")

    def opens() -> dict[str, int]:
        return {url: browser.get(url).status_code for url in TOOLS}

    def linked() -> set[str]:
        index = browser.get("/admin/").content.decode()
        return {url for url in TOOLS if f'href="{url}"' in index}

    assert opens() == dict.fromkeys(TOOLS, 403)  # staff alone opens none of them
    assert linked() == set()
    grant(staff, "audit.view_dispatchlog")
    assert opens() == {"/admin/audit/dashboard/": 200, "/admin/simulator/": 403, "/admin/coverage/": 403}
    assert linked() == {"/admin/audit/dashboard/"}
    grant(staff, "policies.view_dispatchpolicy")
    assert opens() == dict.fromkeys(TOOLS, 200)
    assert linked() == set(TOOLS)


def test_a_refused_tool_shows_nothing_of_the_world(django_user_model):
    demo_world_load()
    django_user_model.objects.create_user("clerk", password="clerk-password-1", is_staff=True)
    browser = Client()
    browser.login(username="clerk", password="clerk-password-1")
    page = browser.get("/admin/simulator/", {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"})
    assert page.status_code == 403 and "OpenAI" not in page.content.decode()
