from django.contrib import admin

from apps.agents.models import Agent, AgentMCPServer


class AgentMCPServerInline(admin.TabularInline[AgentMCPServer, Agent]):
    model = AgentMCPServer
    extra = 0
    fields = ("name", "enabled", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin[Agent]):
    list_display = ("name", "project", "agent_type", "is_default", "created_at")
    list_filter = ("agent_type", "is_default")
    search_fields = ("name", "description", "project__name")
    list_select_related = ("project",)
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = (AgentMCPServerInline,)


@admin.register(AgentMCPServer)
class AgentMCPServerAdmin(admin.ModelAdmin[AgentMCPServer]):
    # `config` is not shown: its env and headers may carry secrets.
    list_display = ("name", "agent", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "agent__name")
    list_select_related = ("agent",)
    fields = ("agent", "name", "enabled", "created_at")
    readonly_fields = ("agent", "created_at")
