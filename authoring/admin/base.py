"""The admin side of authoring changes that the database or the rules refuse at write time.

Forms check every rule first, but a save can still be refused when it is written (another
administrator saved a clashing policy meanwhile, a provider got used since the delete page was
shown). The write is then rolled back whole, and the same page is shown again with the refusal
as a form error: never a 500, never a partial write.

Deletes are authoring changes too: the confirmation page asks for a change reason (kept on the
history's deletion row) and lists the contexts that would lose their last compliant provider,
which must be confirmed. Uses that would be dropped silently are shown like Django's protected
objects ("cannot delete"). Bulk "delete selected" is off: deactivate instead, or delete one by one.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db import IntegrityError, router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse

from authoring import deletion
from authoring.changes import GOVERNED, ChangeRefused, approval_required, change_propose, document_of
from authoring.documents import DocumentInvalid
from authoring.refusals import integrity_problems
from authoring.validators import AuthoringError, Problems
from common.history_admin import HistoryAdmin
from policies.engine import Snapshot
from policies.snapshot import snapshot_build

_REFUSAL = "_authoring_refusal"
_WORLD = "_authoring_world"
_PROPOSAL = "_authoring_proposal"
_ORIGINAL_KEY = "_authoring_original_key"
REFUSED = "Nothing was saved: this change was refused when it was written, because the data changed meanwhile."


class AuthoringAdmin(HistoryAdmin):
    """Refused writes come back as form errors; deletes ask for a reason and show coverage loss."""

    delete_confirmation_template = "admin/policies/authoring_delete_confirmation.html"

    def refusal_problems(self, error: Exception) -> Problems:
        if isinstance(error, AuthoringError):
            return error.problems
        assert isinstance(error, IntegrityError)
        return integrity_problems(error, self.model)

    def world(self, request: HttpRequest) -> Callable[[], Snapshot]:
        """The authored world this request checks its rules against: built once per request (the
        form, its formsets and the service it calls share it), and again after a refused write."""
        world: Callable[[], Snapshot] | None = getattr(request, _WORLD, None)
        if world is None:
            world = functools.cache(snapshot_build)
            setattr(request, _WORLD, world)
        return world

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        extra: dict[str, Any] = {"world": staticmethod(self.world(request))}
        refusal = getattr(request, _REFUSAL, None)
        if refusal:  # the second pass after a refused write: the form shows why
            if getattr(request, _PROPOSAL, None) is not None:  # a proposal refused: its own words
                extra["refusal"] = refusal
            else:
                extra["refusal"] = {**refusal, "__all__": [REFUSED, *refusal.get("__all__", [])]}
        return type(form.__name__, (form,), extra)

    def _refused(self, request: HttpRequest, error: Exception) -> None:
        """Prepare the second pass of a refused write: the refusal shown, the world read again."""
        setattr(request, _REFUSAL, self.refusal_problems(error))
        setattr(request, _WORLD, None)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if self.proposing():
            extra_context = {**(extra_context or {}), "propose_change": True}
            if request.method == "POST":
                return self._propose(request, lambda: self._changeform(request, object_id, form_url, extra_context))
        return self._changeform(request, object_id, form_url, extra_context)

    def _changeform(
        self, request: HttpRequest, object_id: str | None, form_url: str, extra_context: Any
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (AuthoringError, IntegrityError) as error:  # rolled back by changeform_view's transaction
            if request.method != "POST":
                raise
            self._refused(request, error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    # --- change approval (authoring.changes) ------------------------------------------------------

    change_form_template = "admin/policies/authoring_change_form.html"

    def proposing(self) -> bool:
        """With CHANGE_APPROVAL=required, a save of a governed model becomes a change request."""
        return approval_required() and self.model in GOVERNED

    def _propose(self, request: HttpRequest, save: Callable[[], HttpResponse]) -> HttpResponse:
        """Run the admin's own save (its forms, rules and messages), keep what it would write as a
        document, roll it all back, and record a change request for review instead."""
        proposal: dict[str, Any] = {}
        setattr(request, _PROPOSAL, proposal)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = save()
            if "document" in proposal:
                transaction.set_rollback(True)  # nothing of the save stays: it waits for review
        if "document" not in proposal:
            return response  # the form again, with its errors: nothing was written
        try:
            change = change_propose(
                document=proposal["document"],
                reason=" ".join(request.POST.get("change_reason", "").split()),
                author=request.user,
                effective_at=proposal.get("effective_at"),
            )
        except (DocumentInvalid, ChangeRefused) as error:
            problems = error.problems if isinstance(error, ChangeRefused) else {"__all__": error.errors}
            messages.error(request, "Nothing was proposed: " + "; ".join(m for ms in problems.values() for m in ms))
            return HttpResponseRedirect(request.get_full_path())
        messages.success(
            request,
            f"Proposed as change request #{change.pk}: nothing is live until another administrator approves it.",
        )
        return HttpResponseRedirect(reverse("admin:authoring_changerequest_change", args=[change.pk]))

    def _proposed(self, request: HttpRequest, obj: Any) -> HttpResponse | None:
        """After the would-be save (in its transaction): the object as a document entry."""
        proposal = getattr(request, _PROPOSAL, None)
        if proposal is None:
            return None
        governed = GOVERNED[type(obj)]
        original = getattr(request, _ORIGINAL_KEY, None)
        if original is not None and original != getattr(obj, governed.key):
            raise ChangeRefused(
                {
                    governed.key: [
                        f"With change approval required, a {governed.key} cannot be changed through a proposal "
                        f"(it is how the change request finds the entry); keep {original!r}."
                    ]
                }
            )
        proposal["effective_at"] = effective_at_field(request.POST.get("change_effective_at", ""))
        proposal["document"] = document_of(obj)
        return HttpResponse(status=204)  # replaced by the redirect to the change request

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        proposing = getattr(request, _PROPOSAL, None) is not None
        if obj is not None and proposing and type(obj) in GOVERNED and not hasattr(request, _ORIGINAL_KEY):
            setattr(request, _ORIGINAL_KEY, getattr(obj, GOVERNED[type(obj)].key))
        return obj

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> HttpResponse:
        return self._proposed(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        return self._proposed(request, obj) or super().response_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A change request creates or changes entries; it never deletes (deactivate instead).
        return not self.proposing() and super().has_delete_permission(request, obj)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        """The revert page: the revert is one transaction, and a refused one is a form error; with
        approval required, a revert is proposed like a save."""
        if self.proposing() and request.method == "POST":
            return self._propose(request, lambda: self._history_form(request, object_id, version_id, extra_context))
        return self._history_form(request, object_id, version_id, extra_context)

    def _history_form(self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any) -> HttpResponse:
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().history_form_view(request, object_id, version_id, extra_context)
        except (AuthoringError, IntegrityError) as error:
            if request.method != "POST":
                raise
            self._refused(request, error)
            return super().history_form_view(request, object_id, version_id, extra_context)

    # --- delete ---------------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # no reason, no coverage check: deactivate instead
        if self.proposing():
            return {}  # bulk actions write at once; with approval required, edit and propose instead
        return actions

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        blockers = [blocker for obj in objs for blocker in deletion.deletion_blockers(obj)]
        return deleted, counts, perms_needed, [*protected, *blockers]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        deletion.authored_delete(
            instance=obj,
            reason=request.POST.get("change_reason", ""),
            user=request.user,
            confirm_coverage_loss=bool(request.POST.get("confirm_coverage_loss")),
        )

    def _deletion_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        obj = self.get_object(request, unquote(object_id))
        losses = deletion.deletion_losses(obj) if obj is not None else []
        return {
            "coverage_losses": losses,
            "confirm_label": deletion.CONFIRM_LABEL,
            "change_reason": request.POST.get("change_reason", ""),
        }

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        context = {**(extra_context or {}), **self._deletion_context(request, object_id)}
        try:
            return super().delete_view(request, object_id, context)
        except (AuthoringError, IntegrityError) as error:  # rolled back by delete_view's transaction
            if request.method != "POST":
                raise
            problems = self.refusal_problems(error)
            # Show the confirmation page again (or Django's "cannot delete" page if it is used now).
            again = copy.copy(request)
            again.method = "GET"
            again.POST = QueryDict()
            context = {
                **context,
                **self._deletion_context(again, object_id),
                "change_reason": request.POST.get("change_reason", ""),
                "deletion_errors": [message for messages in problems.values() for message in messages],
            }
            return super().delete_view(again, object_id, context)


def effective_at_field(value: str) -> dt.datetime | None:
    """The proposal form's optional "effective at" (an HTML datetime-local, UTC); a bad value is a
    form error naming the field."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ChangeRefused(
            {"__all__": [f"Effective at: a date and time (UTC) such as 2027-01-04T06:00, not {value!r}."]}
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
