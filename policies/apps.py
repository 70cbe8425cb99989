from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies and regions"

    def ready(self) -> None:
        from policies import snapshot
        from policies.api import schema  # noqa: F401 - registers the dispatch body's OpenAPI extension

        snapshot.connect_invalidation()
