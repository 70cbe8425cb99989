"""Users and groups: their permission pickers leave out the history tables' permissions.

django-simple-history adds a model per history table ("historical dispatch policy", ...), each
with four permissions nobody grants (history is written by the authoring services and read
through the object's own History page). Listing them doubled the picker with jargon.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import ManyToManyField
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest


class _WithoutHistoryPermissions:
    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and db_field.name in ("permissions", "user_permissions"):
            field.queryset = field.queryset.exclude(content_type__model__startswith="historical")
        return field


class AccountUserAdmin(_WithoutHistoryPermissions, UserAdmin):
    pass


class AccountGroupAdmin(_WithoutHistoryPermissions, GroupAdmin):  # type: ignore[misc]
    pass


for model, model_admin in ((get_user_model(), AccountUserAdmin), (Group, AccountGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)

__all__ = ["AccountGroupAdmin", "AccountUserAdmin"]
