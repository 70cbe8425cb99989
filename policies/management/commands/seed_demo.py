from typing import Any

from django.core.management.base import BaseCommand

from policies.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load


class Command(BaseCommand):
    help = "Load the demo world of the seed document (idempotent) and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = demo_world_load()
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo world loaded: {summary}."))
        self.stdout.write(
            f"Admin: http://127.0.0.1:8002/admin/  user {DEMO_ADMIN_USERNAME!r} password {DEMO_ADMIN_PASSWORD!r}"
        )
