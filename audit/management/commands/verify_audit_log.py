"""Verify the audit log (digests, checkpoints, purges), then seal new settled rows into checkpoints.

Runs as the owner role when DATABASE_OWNER_URL is set: the service role may read the log and its
checkpoints but not write checkpoints, so sealing needs the owner (`--no-seal` does not).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import ProgrammingError

from audit.integrity import audit_log_verify, checkpoint_seal
from audit.roles import owner_alias
from audit.rollups import rollup_fold


class Command(BaseCommand):
    help = "Verify the audit log; names the first altered, deleted or inserted row. Exit 1 when tampered."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="Only verify; write no new checkpoint")

    def handle(self, *args: Any, **options: Any) -> None:
        using = owner_alias()
        report = audit_log_verify(using=using)
        first = report.first_problem
        if first is not None:
            for problem in sorted(report.problems, key=lambda p: p.row_id)[1:20]:
                self.stderr.write(f"  also: {problem.message}")
            raise CommandError(
                f"audit log TAMPERED ({len(report.problems)} problem(s)); first bad row: {first.message}"
            )
        try:
            sealed = [] if options["no_seal"] else checkpoint_seal(using=using)
        except ProgrammingError as exc:  # psycopg's InsufficientPrivilege
            raise CommandError(
                f"audit log OK, but sealing was refused ({str(exc).strip().splitlines()[0]}): sealing runs as the "
                "owner role; set DATABASE_OWNER_URL, or pass --no-seal"
            ) from exc
        folded = 0 if options["no_seal"] else rollup_fold(using=using)
        head = sealed[-1].signature if sealed else report.head_signature
        self.stdout.write(
            f"audit log OK: {report.rows} rows verified, {report.checkpoints} checkpoints "
            f"(+{len(sealed)} sealed now), rows purged through id {report.purged_through}, "
            f"{report.unsealed_rows} rows not yet sealed; {folded} rows folded into rollups; "
            f"head signature {head or '-'}"
        )
