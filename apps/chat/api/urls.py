from django.urls import path

from apps.chat.api import usage_views, views

PROJECT = "projects/<project_id:project_id>"
CHAT = f"{PROJECT}/chat/<session_id:session_id>"

urlpatterns = [
    path(f"{PROJECT}/chat", views.ChatView.as_view(), name="chat"),
    path(f"{PROJECT}/usage", usage_views.ProjectUsageView.as_view(), name="project-usage"),
    path(f"{CHAT}/stream", views.ChatStreamView.as_view(), name="chat-stream"),
    path(f"{CHAT}/cancel", views.ChatCancelView.as_view(), name="chat-cancel"),
    path(
        f"{PROJECT}/sessions/<session_id:session_id>/messages",
        views.SessionMessagesView.as_view(),
        name="session-messages",
    ),
]
