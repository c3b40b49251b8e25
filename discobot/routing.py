"""WebSocket routes (the terminal and chat consumers register theirs here)."""

from django.urls import URLPattern

from apps.terminal import routing as terminal_routing

websocket_urlpatterns: list[URLPattern] = [*terminal_routing.websocket_urlpatterns]
