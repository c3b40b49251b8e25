from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.projects.models import Project, ProjectEvent, ProjectInvitation, ProjectMember


class ProjectMemberInline(admin.TabularInline[ProjectMember, Project]):
    model = ProjectMember
    fk_name = "project"
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("invited_by", "invited_at", "accepted_at", "created_at")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("name", "slug", "id", "created_at", "updated_at")
    search_fields = ("name", "slug", "id")
    readonly_fields = ("id", "last_event_seq", "created_at", "updated_at")
    inlines = (ProjectMemberInline,)


@admin.register(ProjectMember)
class ProjectMemberAdmin(admin.ModelAdmin[ProjectMember]):
    list_display = ("user", "project", "role", "accepted_at", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__name", "project__name", "project__slug")
    list_select_related = ("user", "project")
    autocomplete_fields = ("user", "project")
    readonly_fields = ("invited_by", "invited_at", "accepted_at", "created_at")


@admin.register(ProjectInvitation)
class ProjectInvitationAdmin(admin.ModelAdmin[ProjectInvitation]):
    # token_hash is left out on purpose: it is a credential's fingerprint, not for display.
    list_display = ("email", "project", "role", "expires_at", "created_at")
    list_filter = ("role",)
    search_fields = ("email", "project__name", "project__slug")
    list_select_related = ("project",)
    fields = ("project", "email", "role", "invited_by", "expires_at", "created_at")
    readonly_fields = ("project", "invited_by", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Invitations are created through the API, which shows the token to the inviter once.
        return False


@admin.register(ProjectEvent)
class ProjectEventAdmin(admin.ModelAdmin[ProjectEvent]):
    list_display = ("project", "seq", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("project__name", "project__id", "type")
    list_select_related = ("project",)
    readonly_fields = ("id", "project", "seq", "type", "data", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
