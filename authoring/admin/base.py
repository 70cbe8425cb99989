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
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db import IntegrityError, router, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from authoring import deletion
from authoring.coverage import losses_by_region
from authoring.refusals import integrity_problems
from authoring.validators import AuthoringError, Problems
from policies.engine import Snapshot
from policies.snapshot import snapshot_build

_REFUSAL = "_authoring_refusal"
_WORLD = "_authoring_world"
_CONFIRMED = "_authoring_coverage_confirmed"
REVERTING = "_authoring_reverting"  # set on a revert's request: the date of the version restored
REFUSED = "Nothing was saved: this change was refused when it was written, because the data changed meanwhile."


class AuthoringAdmin(SimpleHistoryAdmin):
    """Refused writes come back as form errors; deletes ask for a reason and show coverage loss."""

    delete_confirmation_template = "admin/policies/authoring_delete_confirmation.html"
    change_form_template = "admin/policies/authoring_change_form.html"

    # --- what a refused or held save says, at the top of the page ---------------------------------

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        """A hold (the change would leave contexts uncovered) is a warning listing them; any other
        refusal is listed whole at the top, each message with the field it is about."""
        adminform = context.get("adminform")
        form = adminform.form if adminform is not None else None
        formsets = [inline.formset for inline in context.get("inline_admin_formsets", [])]
        held = next(
            (f.coverage_losses_held for f in [form, *formsets] if getattr(f, "coverage_losses_held", None)), None
        )
        if form is not None and form.is_bound and (form.errors or any(not f.is_valid() for f in formsets)):
            problems: list[str] = []
            for name, errors in form.errors.items():
                if held and name == "confirm_coverage_loss":
                    continue
                field = form.fields.get(name)
                prefix = f"{field.label or name.replace('_', ' ').capitalize()}: " if field is not None else ""
                problems += [f"{prefix}{error}" for error in errors]
            for formset in formsets:
                problems += [str(e) for e in formset.non_form_errors() if not held or "leaves" not in str(e)]
                problems += [str(e) for errors in formset.errors for messages_ in errors.values() for e in messages_]
            context["refusal_problems"] = problems
        context["coverage_hold"] = losses_by_region(held) if held else None
        context["coverage_hold_count"] = len(held) if held else 0
        return super().render_change_form(request, context, *args, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        confirmed = next(
            (f.coverage_losses_confirmed for f in [form, *formsets] if getattr(f, "coverage_losses_confirmed", None)),
            None,
        )
        setattr(request, _CONFIRMED, confirmed)

    def _coverage_recap(self, request: HttpRequest) -> None:
        confirmed = getattr(request, _CONFIRMED, None)
        if not confirmed:
            return
        regions = "; ".join(f"{group.label}: {len(group.contexts)}" for group in losses_by_region(confirmed))
        self.message_user(
            request,
            format_html(
                "Saved with the coverage loss you confirmed: {} context(s) now have no compliant provider ({}); "
                'requests for them are refused. <a href="{}">See the coverage map</a>.',
                len(confirmed),
                regions,
                reverse("admin:coverage"),
            ),
            messages.WARNING,
        )

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        self._coverage_recap(request)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        self._coverage_recap(request)
        return super().response_change(request, obj)

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
            extra["refusal"] = {**refusal, "__all__": [REFUSED, *refusal.get("__all__", [])]}
        return type(form.__name__, (form,), extra)

    def _refused(self, request: HttpRequest, error: Exception) -> None:
        """Prepare the second pass of a refused write: the refusal shown, the world read again."""
        setattr(request, _REFUSAL, self.refusal_problems(error))
        setattr(request, _WORLD, None)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (AuthoringError, IntegrityError) as error:  # rolled back by changeform_view's transaction
            if request.method != "POST":
                raise
            self._refused(request, error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        """The revert page: the revert is one transaction, and a refused one is a form error."""
        if request.method == "POST":
            version = self.model.history.filter(pk=unquote(version_id)).first()
            setattr(request, REVERTING, version.history_date if version is not None else None)
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
