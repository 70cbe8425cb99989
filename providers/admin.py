from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from providers.models import ModelProvider, PromptTemplate


@admin.register(ModelProvider)
class ModelProviderAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "vendor", "is_active", "requests_per_minute", "tokens_per_minute"]
    list_filter = ["is_active", "vendor"]
    search_fields = ["name", "slug", "vendor", "model_name"]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "subject", "grade_band", "version", "is_active"]
    list_filter = ["is_active", "subject", "grade_band"]
    search_fields = ["slug", "name"]
