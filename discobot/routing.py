"""WebSocket routes (the terminal and chat consumers register theirs here)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
