from django.contrib import admin
from django.http import HttpRequest

from apps.credentials.models import Credential


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin[Credential]):
    # The encrypted secret and its key id are never displayed or editable here.
    list_display = ("name", "provider", "project", "auth_type", "is_configured", "updated_at")
    list_filter = ("provider", "auth_type", "is_configured")
    search_fields = ("name", "provider", "project__name")
    list_select_related = ("project",)
    fields = (
        "project",
        "provider",
        "name",
        "auth_type",
        "is_configured",
        "base_url",
        "input_price_per_million",
        "output_price_per_million",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "project",
        "provider",
        "auth_type",
        "is_configured",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A credential without its secret is useless; they are stored through the API.
        return False
