"""The demo API client: all scopes and a documented key (`make run` prints it; never in production).

Created only when no client has its name; an existing one (revoked, rotated, re-scoped) is left
as its administrator left it (issue 12, finding 4).
"""

from __future__ import annotations

from django.db import transaction

from clients.keys import key_hash, principal_cache
from clients.models import ApiClient, Scope

DEMO_CLIENT_NAME = "demo-app"
# A documented demo key, like the demo admin password: `make run` prints it; never use it in production.
DEMO_CLIENT_KEY = "mds_demo0001_dispatch-demo-key-not-a-secret"


@transaction.atomic
def demo_client_ensure() -> str | None:
    """Create the demo client (all scopes, the demo key) if no client has its name; returns the
    demo key while it works for that client, else None. An existing client is never changed: a
    revoked, rotated or re-scoped demo client stays as its administrator left it."""
    client, created = ApiClient.objects.get_or_create(
        name=DEMO_CLIENT_NAME,
        defaults=dict(
            description="Demo client created by seed_demo",
            key_prefix="demo0001",
            key_hash=key_hash(DEMO_CLIENT_KEY),
            scopes=list(Scope.values),
        ),
    )
    if created:
        principal_cache.clear()
    if client.is_active and client.key_hash == key_hash(DEMO_CLIENT_KEY):
        return DEMO_CLIENT_KEY
    return None
