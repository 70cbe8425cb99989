"""`migrate`, run as the owner role when DATABASE_OWNER_URL is set (docs/security.md).

Django's own command, with two differences that only matter with two roles: `--database`
defaults to the owner's alias, and the ORM of data migrations follows it (audit.roles). After
it, the post_migrate step grants the service role its privileges (audit/apps.py).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as DjangoMigrate

from audit.roles import migrating_on, owner_alias


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " With DATABASE_OWNER_URL set: as the owner role, then grants the service role."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database=owner_alias())

    def handle(self, *args: Any, **options: Any) -> None:
        with migrating_on(options["database"]):
            super().handle(*args, **options)
