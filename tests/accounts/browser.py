"""A browser's part in the OAuth dance, for tests: follow the redirects by hand."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.test import Client


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def approve_at_provider(authorize_url: str) -> str:
    """The browser's visit to the provider: returns where the provider sends it back."""
    opener = urllib.request.build_opener(NoRedirects)
    try:
        opener.open(authorize_url, timeout=5)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        return redirect.headers["Location"]
    raise AssertionError("the provider did not redirect back")


def local_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def start_login(client: Client, provider_name: str, query: str = "") -> str:
    response = client.get(f"/auth/login/{provider_name}{query}")
    assert response.status_code == 307
    return response["Location"]


def sign_in(client: Client, provider_name: str, query: str = ""):
    back = approve_at_provider(start_login(client, provider_name, query))
    return client.get(local_path(back))
