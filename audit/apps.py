from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and metrics"

    def ready(self) -> None:
        from audit import checks  # noqa: F401 - registers the deployment checks

        post_migrate.connect(_service_role_grant, sender=self, dispatch_uid="audit.service_role_grant")


def _service_role_grant(sender: AppConfig, using: str, plan: Any = None, verbosity: int = 1, **kwargs: Any) -> None:
    """After every `migrate` on the owner alias (not after `flush`: privileges survive TRUNCATE),
    give the service role exactly its privileges (audit/roles.py)."""
    from audit.roles import OWNER_ALIAS, service_role, service_role_grant, two_roles

    if plan is None or using != OWNER_ALIAS or not two_roles():
        return
    tables = service_role_grant(using=using)
    if verbosity >= 1 and kwargs.get("stdout") is not None:
        kwargs["stdout"].write(f"  Granted the service role {service_role()} its privileges on {tables} tables")
