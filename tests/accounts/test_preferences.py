"""`/api/preferences` (web-app.md): the caller's own settings of the web app, by key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import PREFERENCE_VALUE_MAX_BYTES, PREFERENCES_MAX_PER_USER

pytestmark = pytest.mark.django_db

PREFERENCE_KEYS = {"key", "value", "updatedAt"}


def put(client: APIClient, key: str, value) -> dict:
    response = client.put(f"/api/preferences/{key}", {"value": value}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def listed(client: APIClient) -> dict[str, str]:
    response = client.get("/api/preferences")
    assert response.status_code == 200, response.content
    return {row["key"]: row["value"] for row in response.json()["preferences"]}


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


def test_a_new_user_has_no_preferences(client):
    assert client.get("/api/preferences").json() == {"preferences": []}


def test_a_preference_set_by_key_is_read_back_and_listed(client):
    saved = put(client, "preferredIDE", "vscode")

    assert set(saved) == PREFERENCE_KEYS
    assert (saved["key"], saved["value"]) == ("preferredIDE", "vscode")
    assert client.get("/api/preferences/preferredIDE").json() == saved
    assert client.get("/api/preferences").json() == {"preferences": [saved]}


def test_setting_a_key_again_replaces_its_value(client):
    first = put(client, "prompts.pinned", '["a"]')
    second = put(client, "prompts.pinned", '["a", "b"]')

    assert listed(client) == {"prompts.pinned": '["a", "b"]'}
    assert second["updatedAt"] >= first["updatedAt"]


def test_bulk_put_sets_the_named_keys_keeps_the_others_and_answers_with_all(client):
    put(client, "preferredIDE", "vscode")

    response = client.put(
        "/api/preferences",
        {"preferences": {"preferredIDE": "cursor", "theme": "dark", "empty": ""}},
        format="json",
    )

    assert response.status_code == 200, response.content
    rows = response.json()["preferences"]
    assert [row["key"] for row in rows] == ["empty", "preferredIDE", "theme"]
    assert all(set(row) == PREFERENCE_KEYS for row in rows)
    assert listed(client) == {"empty": "", "preferredIDE": "cursor", "theme": "dark"}


def test_delete_forgets_a_key_and_then_it_is_404(client):
    put(client, "theme", "dark")

    deleted = client.delete("/api/preferences/theme")

    assert deleted.status_code == 200
    assert deleted.json() == {"success": True}
    assert listed(client) == {}
    assert client.get("/api/preferences/theme").status_code == 404
    assert client.delete("/api/preferences/theme").json() == {"error": "Preference not found"}


def test_an_unknown_key_is_a_json_404(client):
    response = client.get("/api/preferences/never.set")

    assert response.status_code == 404
    assert response.json() == {"error": "Preference not found"}


def test_a_user_never_sees_anothers_preferences(client_for, member, outsider):
    mine, theirs = client_for(member), client_for(outsider)
    put(mine, "preferredIDE", "vscode")
    put(theirs, "theme", "light")

    assert listed(mine) == {"preferredIDE": "vscode"}
    assert listed(theirs) == {"theme": "light"}
    assert theirs.get("/api/preferences/preferredIDE").status_code == 404
    assert theirs.delete("/api/preferences/preferredIDE").status_code == 404
    put(theirs, "preferredIDE", "zed")
    assert listed(mine) == {"preferredIDE": "vscode"}


def test_anonymous_mode_keeps_the_anonymous_users_preferences(anonymous_client):
    put(anonymous_client, "preferredIDE", "vscode")

    assert listed(APIClient()) == {"preferredIDE": "vscode"}


def test_with_auth_on_a_caller_who_is_not_signed_in_gets_401(auth_enabled):
    assert APIClient().get("/api/preferences").status_code == 401
    assert APIClient().put("/api/preferences/theme", {"value": "x"}, format="json").status_code == (
        401
    )


@pytest.mark.parametrize(
    "path",
    ["/api/preferences/has%20space", "/api/preferences/" + "k" * 101, "/api/preferences/a/b"],
)
def test_a_key_outside_the_allowed_characters_is_not_a_preference(client, path):
    response = client.put(path, {"value": "x"}, format="json")

    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "Value is required"),
        ({"value": 42}, "string"),
        ({"value": None}, "Value is required"),
        ({"value": "a\x00b"}, "Null characters"),
        ({"value": "x", "other": 1}, "Unknown field"),
    ],
)
def test_a_bad_value_is_a_400(client, body, words):
    response = client.put("/api/preferences/theme", body, format="json")

    assert response.status_code == 400
    assert words.lower() in response.json()["error"].lower()
    assert listed(client) == {}


def test_a_value_past_64_kib_is_refused_saying_the_limit(client):
    fits = "é" * (PREFERENCE_VALUE_MAX_BYTES // 2)
    put(client, "big", fits)

    response = client.put("/api/preferences/big", {"value": fits + "x"}, format="json")

    assert response.status_code == 400
    assert "64 KiB" in response.json()["error"]
    assert listed(client) == {"big": fits}


@pytest.mark.parametrize(
    ("preferences", "words"),
    [
        ({"fine": "x", "bad key": "x"}, "not a valid name"),
        ({"fine": "x", "ok": 1}, "must map names to strings"),
        ({"fine": "x", "ok": None}, "must map names to strings"),
        ({"fine": "x", "ok": "a\x00"}, "cannot hold"),
        (["fine"], "must map names to strings"),
    ],
)
def test_a_bad_bulk_body_is_a_400_and_sets_nothing(client, preferences, words):
    response = client.put("/api/preferences", {"preferences": preferences}, format="json")

    assert response.status_code == 400
    assert words in response.json()["error"]
    assert listed(client) == {}


def test_a_too_long_value_in_a_bulk_put_sets_nothing(client):
    big = "x" * (PREFERENCE_VALUE_MAX_BYTES + 1)

    response = client.put(
        "/api/preferences", {"preferences": {"fine": "x", "big": big}}, format="json"
    )

    assert response.status_code == 400
    assert "64 KiB" in response.json()["error"]
    assert listed(client) == {}


def test_a_user_keeps_a_bounded_number_of_preferences(client):
    full = {f"key.{n}": "x" for n in range(PREFERENCES_MAX_PER_USER)}
    assert client.put("/api/preferences", {"preferences": full}, format="json").status_code == 200

    one_more = client.put("/api/preferences/one.more", {"value": "x"}, format="json")
    again = client.put("/api/preferences/key.0", {"value": "changed"}, format="json")

    assert one_more.status_code == 400
    assert f"at most {PREFERENCES_MAX_PER_USER}" in one_more.json()["error"]
    assert again.status_code == 200
    assert client.delete("/api/preferences/key.1").status_code == 200
    assert client.put("/api/preferences/one.more", {"value": "x"}, format="json").status_code == 200


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_takes_the_same_queries_whatever_its_length(
    client, count, django_assert_num_queries
):
    client.put(
        "/api/preferences",
        {"preferences": {f"key.{n}": "x" for n in range(count)}},
        format="json",
    )

    with django_assert_num_queries(3):  # browser session, user, preferences
        assert len(listed(client)) == count
