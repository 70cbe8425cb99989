from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "API clients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clients import schema  # noqa: F401 - registers the OpenAPI security scheme
