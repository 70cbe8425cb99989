from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers and templates"

    def ready(self) -> None:
        from providers.health.services import health_job_register

        health_job_register()
