"""simple-history's admin, with a malformed id in a history URL answered 404 (issue 18, finding 7).

simple-history looks the object up with the raw id from the URL: `not-a-uuid` against a UUID
primary key (or `x` against an integer history id) raised a ValidationError, a 500. Django's own
change and delete views already treat a malformed id as "no such object"; the history list and
the revert page now do the same.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin


def key_or_404(model: type[Model], raw: str) -> Any:
    """`raw` (as quoted in an admin URL) as `model`'s primary key, or a 404 when it cannot be one."""
    try:
        return model._meta.pk.to_python(unquote(raw))
    except (ValidationError, TypeError, ValueError):
        raise Http404(f"No {model._meta.verbose_name} with that id") from None


class HistoryAdmin(SimpleHistoryAdmin):
    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        key_or_404(self.model, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        key_or_404(self.model, object_id)
        key_or_404(getattr(self.model, self.model._meta.simple_history_manager_attribute).model, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
