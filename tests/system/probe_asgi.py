"""What a real server runs in the WebSocket end-to-end test: `discobot.asgi.application`
with the probe route mounted
(`python -m discobot.server --app tests.system.probe_asgi:application`)."""

from discobot.asgi import application
from discobot.routing import websocket_urlpatterns
from tests.websockets import PROBE_ROUTE

websocket_urlpatterns.append(PROBE_ROUTE)

__all__ = ["application"]
