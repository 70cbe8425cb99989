"""Load the demo world (development and tests only).

Refuses under DJANGO_ENV=production: the demo's documented credentials (admin password, teacher
password, an all-scope API key) must never exist in a production database. Elsewhere it only
creates what is missing and never changes what exists, so running it again (bin/start does, on
every start with SEED_DEMO=1) cannot undo an administrator's decision.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authoring.demo import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    DEMO_CLIENT_NAME,
    DEMO_TEACHER_PASSWORD,
    DEMO_TEACHER_USERNAME,
    demo_client_authorise,
    demo_client_ensure,
    demo_teacher_load,
    demo_world_load,
)
from common.serving import base_url

PRODUCTION_REFUSAL = (
    "seed_demo refuses to run under DJANGO_ENV=production: the demo world has documented "
    "credentials (an all-scope API key, admin and teacher passwords). Unset SEED_DEMO; nothing was written."
)


class Command(BaseCommand):
    help = (
        "Create whatever of the demo world is missing (never changes what exists) and print how to log in. "
        "Refuses under DJANGO_ENV=production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(PRODUCTION_REFUSAL)
        base = base_url() or ""  # where bin/start serves it (BIND, or HOST:PORT)
        counts = demo_world_load()
        teacher = demo_teacher_load()
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo world loaded (existing rows left unchanged): {summary}."))
        self.stdout.write(
            f"Admin: {base}/admin/  user {DEMO_ADMIN_USERNAME!r} password {DEMO_ADMIN_PASSWORD!r}"
            " (unless that account existed before)"
        )
        if teacher is None:
            self.stdout.write(f"Teacher: user {DEMO_TEACHER_USERNAME!r} exists, not a teacher; left as it is.")
        else:
            self.stdout.write(
                f"Teacher: {base}/teacher/  user {DEMO_TEACHER_USERNAME!r}"
                f" password {DEMO_TEACHER_PASSWORD!r} (teacher_id {teacher.external_id!r},"
                f" regions {', '.join(teacher.regions)})"
            )
        key = demo_client_ensure()
        if teacher is not None:
            demo_client_authorise(teacher=teacher)
        if key is None:
            self.stdout.write(
                f"Demo API client {DEMO_CLIENT_NAME!r} exists but the demo key no longer works for it"
                " (revoked or rotated); left as it is."
            )
        else:
            acts_for = f"overrides for teacher_id {teacher.external_id!r} only" if teacher else "no teacher"
            self.stdout.write(
                f"Demo API client {DEMO_CLIENT_NAME!r} (all scopes; {acts_for}); send: Authorization: Api-Key {key}"
            )
