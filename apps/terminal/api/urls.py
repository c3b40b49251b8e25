from django.urls import path

from apps.terminal.api import history_views, status_views

SESSION = "projects/<project_id:project_id>/sessions/<session_id:session_id>"

urlpatterns = [
    path(
        f"{SESSION}/terminal/history",
        history_views.TerminalHistoryView.as_view(),
        name="terminal-history",
    ),
    # The sandbox's state (contract §5).
    path(
        f"{SESSION}/terminal/status",
        status_views.TerminalStatusView.as_view(),
        name="terminal-status",
    ),
]
