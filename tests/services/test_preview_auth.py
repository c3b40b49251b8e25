"""Live preview with AUTH_ENABLED=true: a preview host opens only with its own cookie, which
the API's short-lived signed link gives a member of the project (local provider)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.services.previews import PreviewSite, preview_site, session_seed
from tests.system.test_streams import user_project, user_token
from tests.waiting import wait_for

AUTH = {
    "AUTH_ENABLED": "true",
    "SESSION_SECRET": "preview-session-secret-" + "x" * 32,
    "ENCRYPTION_KEY": "cd" * 32,
    "LOCAL_PROVIDER_ENABLED": "true",
}
# A link signed an hour ago, as the server signs them.
EXPIRED_LINK = """
import time
from unittest import mock
from django.core import signing
from apps.accounts.models import User
from apps.services.preview import LINK_SALT
from apps.workspaces.models import Session
session = Session.objects.get(id="prev-2")
user = User.objects.get(email="ann@example.com")
granted = {"user": str(user.pk), "session": str(session.uuid), "service": "web"}
with mock.patch("time.time", return_value=time.time() - 3600):
    print(signing.dumps(granted, salt=LINK_SALT))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[PreviewSite]:
    with preview_site(tmp_path_factory.mktemp("a"), session_id="prev-2", **AUTH) as site:
        site.ann = user_token(site.server, "ann@example.com")
        site.bob = user_token(site.server, "bob@example.com")
        session_seed(site, user_project(site.server, site.ann))
        started = site.api("/web/start", headers=bearer(site.ann))
        assert started.status_code == 202, started.text
        yield site


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def preview_link(site: PreviewSite, token: str, next_path: str = "/index.txt") -> requests.Response:
    """The main host's preview call, as the browser makes it after the preview host's redirect."""
    return site.get(
        f"localhost:{site.port}",
        f"/api/projects/{site.project_id}/sessions/{site.session_id}/services/web/preview?"
        + urlencode({"next": next_path}),
        headers=bearer(token),
    )


def link_followed(site: PreviewSite, location: str) -> requests.Response:
    link = urlsplit(location)
    return site.get(link.netloc, f"{link.path}?{link.query}")


def test_without_a_cookie_the_preview_sends_the_browser_to_the_api_for_a_link(site):
    answer = site.get(site.host("web"), "/index.txt?x=1")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.netloc == f"localhost:{site.port}"
    assert location.path == (
        f"/api/projects/{site.project_id}/sessions/prev-2/services/web/preview"
    )
    assert parse_qs(location.query) == {"next": ["/index.txt?x=1"]}
    with pytest.raises(InvalidStatus):
        site.websocket("web", "/")


def test_a_member_follows_the_link_gets_the_cookie_and_then_the_page(site):
    issued = preview_link(site, site.ann)
    assert issued.status_code == 302, issued.text
    assert urlsplit(issued.headers["Location"]).netloc == site.host("web")

    opened = link_followed(site, issued.headers["Location"])
    assert opened.status_code == 302
    assert opened.headers["Location"] == "/index.txt"
    cookie = opened.cookies["discobot_preview"]
    set_cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie

    def page():
        answer = site.get(site.host("web"), "/index.txt", cookies={"discobot_preview": cookie})
        return answer.status_code == 200 and answer.text

    assert wait_for(page) == "hello from the sandbox\n"
    # The cookie is this service's: another service of the session is not opened with it.
    other = site.get(site.host("echo"), "/", cookies={"discobot_preview": cookie})
    assert other.status_code == 302


def test_a_non_member_gets_no_link(site):
    refused = preview_link(site, site.bob)
    assert refused.status_code == 404
    assert refused.json() == {"error": "Project not found"}


def test_a_tampered_or_expired_link_is_refused(site):
    location = urlsplit(preview_link(site, site.ann).headers["Location"])
    token = parse_qs(location.query)["token"][0]
    tampered = link_followed(site, f"http://{location.netloc}{location.path}?token={token}x")
    assert tampered.status_code == 403
    assert "invalid or expired" in tampered.json()["error"]

    made = site.server.manage("shell", "-c", EXPIRED_LINK)
    assert made.returncode == 0, made.stderr
    expired = site.get(site.host("web"), "/__discobot/preview?token=" + made.stdout.strip())
    assert expired.status_code == 403
    assert "cookie" not in json.dumps(dict(expired.headers)).lower()


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_next_on_another_host_is_refused(site, next_path):
    issued = preview_link(site, site.ann, next_path=next_path)
    assert issued.status_code == 400
    assert issued.json() == {"error": "next must be a path on the preview host"}

    good = urlsplit(preview_link(site, site.ann).headers["Location"])
    query = parse_qs(good.query)
    query["next"] = [next_path]
    opened = link_followed(site, f"http://{good.netloc}{good.path}?{urlencode(query, doseq=True)}")
    assert opened.status_code == 400
    assert "Location" not in opened.headers
