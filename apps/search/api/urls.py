from django.urls import path

from apps.search.api import views

urlpatterns = [
    path(
        "projects/<project_id:project_id>/search",
        views.ProjectSearchView.as_view(),
        name="project-search",
    ),
]
