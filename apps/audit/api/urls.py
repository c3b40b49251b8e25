from django.urls import path

from apps.audit.api import views

urlpatterns = [
    path("audit", views.AuditListView.as_view(), name="audit-list"),
]
