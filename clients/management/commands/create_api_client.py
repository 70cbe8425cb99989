from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.models import Scope
from clients.services import InvalidClient, api_client_create


class Command(BaseCommand):
    help = "Register an API client and print its new key (alone, on the last line; shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="a slug naming the client, recorded in the audit log")
        parser.add_argument("--scopes", nargs="+", required=True, choices=Scope.values, metavar="SCOPE")
        parser.add_argument("--rate", default="", help="e.g. 6000/min (default: API_CLIENT_DEFAULT_RATE)")
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client, key = api_client_create(
                name=options["name"], scopes=options["scopes"], rate=options["rate"], description=options["description"]
            )
        except InvalidClient as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Created API client {client.name} with scopes {', '.join(client.scopes)}; its key:")
        self.stdout.write(key)
