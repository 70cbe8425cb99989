from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies and regions"

    def ready(self) -> None:
        from policies.snapshot import connect_invalidation

        connect_invalidation()
