from django.urls import path

from apps.terminal.api import status_views

SESSION = "projects/<project_id:project_id>/sessions/<session_id:session_id>"

urlpatterns = [
    # The sandbox's state (contract §5).
    path(
        f"{SESSION}/terminal/status",
        status_views.TerminalStatusView.as_view(),
        name="terminal-status",
    ),
]
