from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from common.history_admin import HistoryAdmin
from teachers.models import TeacherProfile
from teachers.services import teacher_profile_save
from vocabulary import Region


class TeacherProfileForm(forms.ModelForm):
    regions = forms.MultipleChoiceField(
        choices=Region.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Overrides are accepted only for these regions.",
    )

    class Meta:
        model = TeacherProfile
        fields = ["user", "external_id", "regions", "school"]


@admin.register(TeacherProfile)
class TeacherProfileAdmin(HistoryAdmin):
    form = TeacherProfileForm
    list_display = ["external_id", "user", "school", "region_list", "created_at"]
    search_fields = ["external_id", "user__username", "user__email", "school"]
    raw_id_fields = ["user"]

    @admin.display(description="regions")
    def region_list(self, obj: TeacherProfile) -> str:
        return ", ".join(obj.regions)

    def save_model(self, request: HttpRequest, obj: TeacherProfile, form: Any, change: bool) -> None:
        teacher_profile_save(profile=obj)  # also puts the user in the Teachers group
