"""python manage.py import_policies FILE [--dry-run] [--reason TEXT]: apply a policy document.

All or nothing: any refused entry rolls everything back and is named on stderr (exit status 1).
`--propose` records it as a change request instead (docs/changes.md), checked the same way; with
CHANGE_APPROVAL=required that is the only way in.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authoring.changes import ChangeRefused, approval_required, change_propose
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
        parser.add_argument("--propose", action="store_true", help="record a change request for review instead")
        parser.add_argument("--effective-at", default="", help="with --propose: when to publish (ISO 8601 with offset)")
        parser.add_argument("--author", default="", help="with --propose: the proposing user's username")

    def handle(self, *args: Any, **options: Any) -> None:
        document = document_load(options["file"])
        if options["propose"]:
            self._propose(document, options)
            return
        if options["effective_at"] or options["author"]:
            raise CommandError("--effective-at and --author go with --propose")
        if approval_required() and not options["dry_run"]:
            raise CommandError(
                "CHANGE_APPROVAL=required: nothing was imported. Propose it for review with "
                '--propose --reason "..." --author USERNAME (see docs/changes.md).'
            )
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

    def _propose(self, document: Any, options: dict[str, Any]) -> None:
        from django.contrib.auth import get_user_model

        if options["dry_run"]:
            raise CommandError("--propose and --dry-run do not go together (a proposal changes nothing live)")
        if not options["reason"].strip():
            raise CommandError('--propose needs --reason "why": it is shown to the reviewer and kept with the history')
        effective_at = effective_at_parse(options["effective_at"]) if options["effective_at"] else None
        username = options["author"]
        if not username:
            raise CommandError("--propose needs --author USERNAME: the administrator proposing it")
        author = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
        if author is None:
            raise CommandError(f"--author: no active staff user is named {username!r}")
        try:
            change = change_propose(
                document=document, reason=options["reason"], author=author, effective_at=effective_at
            )
        except DocumentInvalid as error:
            lines = "\n".join(f"  - {line}" for line in error.errors)
            raise CommandError(
                f"Nothing was proposed; the document has {len(error.errors)} problem(s):\n{lines}"
            ) from error
        except ChangeRefused as error:
            raise CommandError(f"Nothing was proposed: {error}") from error
        when = f"at {change.effective_at.isoformat()}" if change.effective_at else "once approved"
        self.stdout.write(f"Proposed change request #{change.pk} (published {when}):")
        for line in change.summary.splitlines():
            self.stdout.write(f"  {line}")
        self.stdout.write(f"Review it at /admin/authoring/changerequest/{change.pk}/change/")


def effective_at_parse(value: str) -> dt.datetime:
    """An ISO 8601 time with an offset or Z (2027-01-04T06:00Z); anything else is a CommandError."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"--effective-at: an ISO 8601 time with its offset, e.g. 2027-01-04T06:00Z, not {value!r}")
    return parsed
