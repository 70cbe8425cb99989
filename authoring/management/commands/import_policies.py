"""python manage.py import_policies FILE [--dry-run] [--reason TEXT]: apply a policy document.

All or nothing: any refused entry rolls everything back and is named on stderr (exit status 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authoring.documents import DocumentInvalid, document_import


def document_load(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    text = file.read_text(encoding="utf-8")
    try:
        return json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise CommandError(
            f"{path}: not valid {'JSON' if file.suffix.lower() == '.json' else 'YAML'}: {error}"
        ) from error


class Command(BaseCommand):
    help = "Apply a policy document (JSON or YAML; see docs/administration.md 'Policy as code'), all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the document (.json, or YAML otherwise)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
        parser.add_argument("--reason", default="", help="change reason kept with the history (default: the file name)")

    def handle(self, *args: Any, **options: Any) -> None:
        document = document_load(options["file"])
        reason = options["reason"] or f"import_policies {Path(options['file']).name}"
        try:
            report = document_import(document, dry_run=options["dry_run"], reason=reason)
        except DocumentInvalid as error:
            lines = "\n".join(f"  - {line}" for line in error.errors)
            raise CommandError(
                f"Nothing was imported; the document has {len(error.errors)} problem(s):\n{lines}"
            ) from error
        for line in report.lines():
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
