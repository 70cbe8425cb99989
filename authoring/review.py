"""What a reviewer sees of a change request: the field-by-field diff against what is live, the
coverage impact (`authoring.coverage.coverage_changes`) and the replay impact of the last days of
real dispatches (`policies.replay`). Reads only: the candidate world is the import rolled back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from authoring.coverage import CoverageChange, coverage_changes
from authoring.document_schema import ENTRY_KEYS
from authoring.documents import DocumentInvalid, document_candidate, document_live_entries, document_parse
from authoring.models import ChangeRequest
from policies.replay import DEFAULT_DAYS, ReplayImpact, replay_impact
from policies.snapshot import snapshot_build


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    live: str
    proposed: str


@dataclass(frozen=True, slots=True)
class EntryDiff:
    section: str
    key: str
    created: bool
    changes: list[FieldChange]


@dataclass
class Review:
    change: ChangeRequest
    diff: list[EntryDiff] = field(default_factory=list)
    coverage: list[CoverageChange] = field(default_factory=list)
    replay: ReplayImpact | None = None
    problems: list[str] = field(default_factory=list)  # the document no longer applies: why

    def coverage_of(self, kind: str) -> list[CoverageChange]:
        return [c for c in self.coverage if c.kind == kind]

    @property
    def coverage_summary(self) -> str:
        lost, gained, moved = (len(self.coverage_of(k)) for k in ("lost", "gained", "provider_changed"))
        return (
            f"{lost} context(s) would lose their last compliant provider, {gained} would gain one, "
            f"{moved} would be served by another provider."
        )


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def entry_diffs(document: dict[str, Any]) -> list[EntryDiff]:
    """For each entry of a (parsed-able) document: the fields whose proposed value differs from live."""
    parsed = document_parse(document)
    live = document_live_entries(parsed)
    diffs: list[EntryDiff] = []
    for section, entries in (document or {}).items():
        for entry in entries or []:
            key = entry.get(ENTRY_KEYS[section])
            current = live.get(f"{section}/{key}")
            changes = [
                FieldChange(name, _shown((current or {}).get(name)), _shown(value))
                for name, value in entry.items()
                if current is None or _normal(current.get(name)) != _normal(value)
            ]
            diffs.append(EntryDiff(section, str(key), current is None, changes))
    return diffs


def change_review_data(change: ChangeRequest, *, days: int = DEFAULT_DAYS) -> Review:
    """Everything the review page shows for `change`, computed against the world as it is now."""
    review = Review(change=change)
    try:
        review.diff = entry_diffs(change.document)
        candidate, _ = document_candidate(change.document)
    except DocumentInvalid as error:
        review.problems = error.errors
        return review
    review.coverage = coverage_changes(snapshot_build(), candidate)
    review.replay = replay_impact(candidate, days=days)
    return review
