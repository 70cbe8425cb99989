from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and metrics"

    def ready(self) -> None:
        from audit import checks  # noqa: F401 - registers the deployment checks
