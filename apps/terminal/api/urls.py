from django.urls import path

from apps.terminal.api import history_views, legacy_views, status_views

PROJECT = "projects/<project_id:project_id>"
SESSION = f"{PROJECT}/sessions/<session_id:session_id>"

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
    # The legacy project-level calls (contract §5), each naming its session.
    path(
        f"{PROJECT}/terminal/execute",
        legacy_views.TerminalExecuteView.as_view(),
        name="terminal-execute",
    ),
    path(
        f"{PROJECT}/terminal/history",
        legacy_views.LegacyTerminalHistoryView.as_view(),
        name="terminal-legacy-history",
    ),
]
