"""python manage.py export_policies [--format yaml|json] [--output FILE]: the authored world as a document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandParser

from authoring.documents import document_export


def document_render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


class Command(BaseCommand):
    help = "Write providers, templates, routing rules and policies as one document (import_policies reads it back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
        parser.add_argument("--output", "-o", default="", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        text = document_render(document_export(), options["format"])
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['output']}")
        else:
            self.stdout.write(text, ending="")
