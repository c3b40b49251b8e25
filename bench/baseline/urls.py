from django.urls import path

from bench.baseline.views import SessionDetail, WorkspaceList

urlpatterns = [
    path("api/projects/<str:project_id>/workspaces", WorkspaceList.as_view()),
    path("api/projects/<str:project_id>/sessions/<str:pk>", SessionDetail.as_view()),
]
