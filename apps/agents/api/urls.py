from django.urls import path

from apps.agents.api import views

AGENTS = "projects/<project_id:project_id>/agents"

urlpatterns = [
    path(AGENTS, views.AgentListView.as_view(), name="agent-list"),
    path(f"{AGENTS}/types", views.AgentTypesView.as_view(), name="agent-types"),
    path(f"{AGENTS}/default", views.AgentDefaultView.as_view(), name="agent-default"),
    path(f"{AGENTS}/<uuid:agent_id>", views.AgentDetailView.as_view(), name="agent-detail"),
]
