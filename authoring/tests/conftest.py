import pytest

from authoring.demo import demo_world_load


@pytest.fixture
def staff_client_demo(client, django_user_model):
    """The demo world, and a client logged in as its administrator."""
    demo_world_load()
    client.force_login(django_user_model.objects.get(username="admin"))
    return client
