"""ASGI entry point: preview hosts through the services' proxy, other HTTP through Django
(on a pool of threads, event streams on the loop: discobot/serving.py), WebSockets through
Channels.

Served by `python -m discobot.server` (discobot/server.py)."""

import os

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")

# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.accounts.websockets import WebSocketCallerMiddleware  # noqa: E402
from apps.services.proxy import PreviewHostRouter  # noqa: E402
from discobot.logs import WebSocketRequestId  # noqa: E402
from discobot.metrics import WebSocketsCounted  # noqa: E402
from discobot.middleware import RequestBodyLimit  # noqa: E402
from discobot.routing import websocket_urlpatterns  # noqa: E402
from discobot.serving import ThreadsOrLoop  # noqa: E402

# `{sessionId}-svc-{serviceId}.{host}` is a service's live preview, whatever the path: it is
# routed by its Host before anything else looks at the request.
application = PreviewHostRouter(
    ProtocolTypeRouter(
        {
            "http": RequestBodyLimit(
                ThreadsOrLoop(
                    asgi=django_asgi_app, wsgi=django_wsgi_app, threads=settings.HTTP_THREADS
                )
            ),
            # The caller and the page it came from are checked before any route is looked at.
            "websocket": WebSocketRequestId(
                WebSocketsCounted(WebSocketCallerMiddleware(URLRouter(websocket_urlpatterns)))
            ),
        }
    )
)
