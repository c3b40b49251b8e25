"""WSGI entry point: the REST API, served by gunicorn's worker processes (discobot/server.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")

application = get_wsgi_application()
