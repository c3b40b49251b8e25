from django.urls import path

from apps.services.api import views

SESSION = "projects/<project_id:project_id>/sessions/<session_id:session_id>"
SERVICE = f"{SESSION}/services/<str:service_id>"

urlpatterns = [
    path(f"{SESSION}/services", views.ServiceListView.as_view(), name="service-list"),
    path(f"{SERVICE}/start", views.ServiceStartView.as_view(), name="service-start"),
    path(f"{SERVICE}/stop", views.ServiceStopView.as_view(), name="service-stop"),
    path(f"{SERVICE}/output", views.ServiceOutputView.as_view(), name="service-output"),
    path(f"{SERVICE}/preview", views.ServicePreviewView.as_view(), name="service-preview"),
]
