from django.urls import path

from apps.projects.api import views
from apps.projects.api.events import ProjectEventsView

urlpatterns = [
    path(
        "projects/<project_id:project_id>/events",
        ProjectEventsView.as_view(),
        name="project-events",
    ),
    path("projects", views.ProjectListView.as_view(), name="project-list"),
    path(
        "projects/<project_id:project_id>", views.ProjectDetailView.as_view(), name="project-detail"
    ),
    path(
        "projects/<project_id:project_id>/members",
        views.MemberListView.as_view(),
        name="member-list",
    ),
    path(
        "projects/<project_id:project_id>/members/<uuid:user_id>",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path(
        "projects/<project_id:project_id>/audit",
        views.ProjectAuditView.as_view(),
        name="project-audit",
    ),
    path(
        "projects/<project_id:project_id>/invitations",
        views.InvitationCreateView.as_view(),
        name="invitation-create",
    ),
    path(
        "projects/<project_id:project_id>/invitations/accept",
        views.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path(
        "projects/<project_id:project_id>/invitations/<str:token>/accept",
        views.InvitationTokenAcceptView.as_view(),
        name="invitation-token-accept",
    ),
]
