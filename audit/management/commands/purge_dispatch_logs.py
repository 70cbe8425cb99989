"""Retention: delete audit rows older than N days, in batches, keeping rollups and verifiability.

Runs as the owner role (DATABASE_OWNER_URL when set): the service role may not take this path.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import ProgrammingError

from audit.purge import dispatch_logs_purge


class Command(BaseCommand):
    help = "Delete dispatch_logs rows older than --older-than DAYS (whole sealed checkpoints), recording the purge."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS", help="Age in days (>= 1)")
        parser.add_argument("--batch-size", type=int, default=5000, help="Rows deleted per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 1:
            raise CommandError("--older-than must be at least 1 (days)")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            purge = dispatch_logs_purge(
                older_than_days=options["older_than"], batch_size=options["batch_size"], requested_by=getpass.getuser()
            )
        except ProgrammingError as exc:  # psycopg's InsufficientPrivilege: not the owner role
            raise CommandError(
                f"the purge was refused ({str(exc).strip().splitlines()[0]}): it runs as the owner role; "
                "set DATABASE_OWNER_URL"
            ) from exc
        self.stdout.write(
            f"purged {purge.rows_deleted} rows "
            f"(ids through {purge.through_id}, checkpoint #{purge.through_checkpoint}) "
            f"older than {purge.cutoff:%Y-%m-%d %H:%M} UTC; rollups kept; purge #{purge.pk} recorded"
        )
