from django.apps import AppConfig


class AuthoringConfig(AppConfig):
    name = "authoring"
    verbose_name = "Authoring (back office)"

    def ready(self) -> None:
        from authoring.changes import change_job_register

        change_job_register()
