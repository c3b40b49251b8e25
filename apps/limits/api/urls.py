from django.urls import path

from apps.limits.api import views

urlpatterns = [
    path("projects/<project_id:project_id>/limits", views.LimitsView.as_view(), name="limits"),
]
