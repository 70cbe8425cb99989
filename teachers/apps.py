from django.apps import AppConfig


class TeachersConfig(AppConfig):
    name = "teachers"
    verbose_name = "Teachers"
