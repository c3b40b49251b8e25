from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from apps.accounts.models import ApiToken, User, UserPreference, UserSession


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm[User]):
    avatar_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = User
        fields = "__all__"


# django-stubs bounds UserAdmin to AbstractUser; Django's takes any user model with these fields.
@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):  # type: ignore[type-var]
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "name", "provider", "is_staff", "is_active", "created_at")
    list_filter = ("provider", "is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name", "provider_id")
    ordering = ("email",)
    readonly_fields = ("id", "created_at", "updated_at", "last_login")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        ("Profile", {"fields": ("name", "avatar_url", "provider", "provider_id")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin[UserSession]):
    # The token hash is the session's key; it is never displayed.
    list_display = ("user", "expire_date")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    fields = ("user", "expire_date")
    readonly_fields = ("user", "expire_date")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ("name", "user", "prefix", "expires_at", "last_used_at", "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__email", "prefix")
    list_filter = ("expires_at",)
    fields = ("user", "name", "prefix", "expires_at", "last_used_at", "created_at")
    readonly_fields = ("user", "prefix", "last_used_at", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are created by their owner (API) or by `manage.py create_token`.
        return False


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin[UserPreference]):
    list_display = ("user", "key", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "key")
    raw_id_fields = ("user",)
    readonly_fields = ("updated_at",)


# Login apps are configured from the environment and provider tokens are not stored, so
# allauth's admin pages for them would only show empty tables.
admin.site.unregister(SocialApp)
admin.site.unregister(SocialToken)
