"""Verify the audit log (digests, checkpoints, purges), then seal new settled rows into checkpoints."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.integrity import audit_log_verify, checkpoint_seal
from audit.rollups import rollup_fold


class Command(BaseCommand):
    help = "Verify the audit log; names the first altered, deleted or inserted row. Exit 1 when tampered."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="Only verify; write no new checkpoint")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_log_verify()
        first = report.first_problem
        if first is not None:
            for problem in sorted(report.problems, key=lambda p: p.row_id)[1:20]:
                self.stderr.write(f"  also: {problem.message}")
            raise CommandError(
                f"audit log TAMPERED ({len(report.problems)} problem(s)); first bad row: {first.message}"
            )
        sealed = [] if options["no_seal"] else checkpoint_seal()
        folded = 0 if options["no_seal"] else rollup_fold()
        head = sealed[-1].signature if sealed else report.head_signature
        self.stdout.write(
            f"audit log OK: {report.rows} rows verified, {report.checkpoints} checkpoints "
            f"(+{len(sealed)} sealed now), rows purged through id {report.purged_through}, "
            f"{report.unsealed_rows} rows not yet sealed; {folded} rows folded into rollups; "
            f"head signature {head or '-'}"
        )
