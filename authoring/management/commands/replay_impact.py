"""python manage.py replay_impact FILE [--days N] [--json]: what a policy document would change for
the requests of the last N days (see docs/changes.md). Writes nothing; exit 0 unless the document
is invalid (then 1, every bad entry named, like import_policies)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authoring.documents import DocumentInvalid, document_candidate
from authoring.management.commands.import_policies import document_load
from policies.replay import CATEGORIES, DEFAULT_DAYS, replay_impact


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= 366:
        raise CommandError(f"--days: a whole number of days from 1 to 366, not {value!r}")
    return days


class Command(BaseCommand):
    help = "Replay the last N days of dispatches against a policy document; print what would change."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the document (.json, or YAML otherwise)")
        parser.add_argument("--days", default=str(DEFAULT_DAYS), help=f"days of audit log (default {DEFAULT_DAYS})")
        parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        days = _days(options["days"])
        document = document_load(options["file"])
        try:
            candidate, _ = document_candidate(document)
        except DocumentInvalid as error:
            lines = "\n".join(f"  - {line}" for line in error.errors)
            raise CommandError(f"The document has {len(error.errors)} problem(s):\n{lines}") from error
        impact = replay_impact(candidate, days=days)
        if options["json"]:
            self.stdout.write(json.dumps(impact.as_json(), sort_keys=False))
            return
        self.stdout.write(
            f"Replayed {impact.requests} request(s) of the last {days} day(s): "
            f"{impact.contexts} distinct context(s) resolved."
        )
        for category in CATEGORIES:
            samples = ", ".join(impact.samples[category])
            self.stdout.write(f"{category}: {impact.counts[category]}" + (f" (e.g. {samples})" if samples else ""))
        for region, counts in sorted(impact.by_region.items()):
            changed = ", ".join(f"{c} {n}" for c, n in counts.items() if n and c != "unchanged") or "no change"
            self.stdout.write(f"  {region}: {changed}")
