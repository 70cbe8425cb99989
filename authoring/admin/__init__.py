"""The admin of the authored models; importing it registers them (Django's admin autodiscovery)."""

from authoring.admin import accounts, changes, clients, policies, providers  # noqa: F401 - registers the ModelAdmins
