from typing import Any

from django.core.management.base import BaseCommand

from clients.services import DEMO_CLIENT_NAME, demo_client_ensure
from policies.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load
from teachers.demo import DEMO_TEACHER_PASSWORD, DEMO_TEACHER_USERNAME, demo_client_authorise, demo_teacher_load


class Command(BaseCommand):
    help = "Load the demo world of the seed document (idempotent) and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = demo_world_load()
        teacher = demo_teacher_load()
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo world loaded: {summary}."))
        self.stdout.write(
            f"Admin: http://127.0.0.1:8002/admin/  user {DEMO_ADMIN_USERNAME!r} password {DEMO_ADMIN_PASSWORD!r}"
        )
        self.stdout.write(
            f"Teacher: http://127.0.0.1:8002/teacher/  user {DEMO_TEACHER_USERNAME!r}"
            f" password {DEMO_TEACHER_PASSWORD!r} (teacher_id {teacher.external_id!r},"
            f" regions {', '.join(teacher.regions)})"
        )
        key = demo_client_ensure()
        demo_client_authorise(teacher=teacher)
        self.stdout.write(
            f"Demo API client {DEMO_CLIENT_NAME!r} (all scopes; overrides for teacher_id {teacher.external_id!r}"
            f" only); send: Authorization: Api-Key {key}"
        )
