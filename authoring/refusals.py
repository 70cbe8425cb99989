"""What the database refused, in words an administrator can act on.

The authoring services check every rule before they write, but the world can change between that
check and the write (another administrator saves a clashing policy, a dispatch starts using a
provider being deleted). The database constraints then refuse the write; this module turns that
refusal into the same field -> messages shape as the authoring rules, so every surface shows a
form error (or an admin message) instead of a 500, and nothing is written.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import Model, ProtectedError, RestrictedError, UniqueConstraint

MEANWHILE = "It was saved by someone else while you were editing; nothing was saved."

# Constraints whose generic text is not enough to act on.
_CONSTRAINT_ADVICE = {
    "policy_unique_active_shape_priority": (
        "priority",
        "Another active policy now has the same subject, grade band, region and priority. "
        f"{MEANWHILE} Choose another priority, or deactivate one of the two.",
    ),
}


def integrity_problems(error: IntegrityError, model: type[Model]) -> dict[str, list[str]]:
    """Field -> messages for a constraint violation of `model` (PostgreSQL and SQLite wording)."""
    text = str(error)
    table = model._meta.db_table
    for constraint in model._meta.constraints:
        columns = [getattr(model._meta.get_field(name), "column", name) for name in getattr(constraint, "fields", ())]
        named = constraint.name in text  # PostgreSQL names the constraint; SQLite lists the columns
        if not named and not (columns and all(f"{table}.{column}" in text for column in columns)):
            continue
        if constraint.name in _CONSTRAINT_ADVICE:
            name, message = _CONSTRAINT_ADVICE[constraint.name]
            return {name: [message]}
        name = constraint.fields[-1] if isinstance(constraint, UniqueConstraint) and constraint.fields else "__all__"
        return {name: [f"{constraint.get_violation_error_message()} {MEANWHILE}"]}
    for field in model._meta.concrete_fields:
        if not field.unique or field.primary_key:
            continue
        column = field.column
        if f"{table}.{column}" in text or f"{table}_{column}_" in text or f"({column})=" in text:
            return {
                field.name: [
                    f"Another {model._meta.verbose_name} with this {field.verbose_name} exists now. {MEANWHILE} "
                    f"Choose another {field.verbose_name}."
                ]
            }
    return {
        "__all__": [
            "The database refused this change because it conflicts with one saved meanwhile; nothing was saved. "
            "Reload the page and try again."
        ]
    }


def protected_problems(error: ProtectedError | RestrictedError, instance: Model) -> dict[str, list[str]]:
    """A delete refused because other rows still point at `instance` (e.g. policies, dispatch logs)."""
    users = sorted({f"{obj._meta.verbose_name} “{obj}”" for obj in list(error.args[1])[:5]})
    return {
        "__all__": [
            f"{instance} cannot be deleted: it is still used by {', '.join(users)}. Nothing was deleted; "
            "deactivate it instead, or remove those uses first."
        ]
    }
