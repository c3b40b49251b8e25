"""The published schema of the files and git endpoints says what the server does (issue 10,
item 16): answers match their schemas, parameters have their types, rules are stated."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.gitops.paths import FILE_PATTERN, FOLDER_PATTERN, UnsafePath, path_parts
from tests.gitops.conftest import working_copy

PROJECT = "/api/projects/{project_id}"
SESSION = f"{PROJECT}/sessions/{{session_id}}"
GIT = f"{PROJECT}/workspaces/{{workspace_id}}/git"
OPERATIONS = {
    ("get", f"{SESSION}/files"),
    ("get", f"{SESSION}/files/read"),
    ("put", f"{SESSION}/files/write"),
    ("post", f"{SESSION}/files/delete"),
    ("post", f"{SESSION}/files/rename"),
    ("get", f"{SESSION}/files/search"),
    ("get", f"{SESSION}/diff"),
    ("get", f"{GIT}/status"),
    ("post", f"{GIT}/fetch"),
    ("post", f"{GIT}/checkout"),
    ("get", f"{GIT}/branches"),
    ("get", f"{GIT}/diff"),
    ("get", f"{GIT}/files"),
    ("get", f"{GIT}/file"),
    ("post", f"{GIT}/file"),
    ("post", f"{GIT}/stage"),
    ("post", f"{GIT}/commit"),
    ("get", f"{GIT}/log"),
}
# Characters that make paths interesting: separators, dots, the letters of `.git` in both
# cases, a backslash, control characters, a space and a letter outside ASCII.
PATH_ALPHABET = st.sampled_from(list("a./gGiItT\\\x00\n é"))


def published(pattern: str) -> str:
    """`pattern` as drf-spectacular writes it (`\\xNN` as `\\u00NN`, which ECMA regexes read)."""
    return pattern.replace(r"\x", r"\u00")


def accepted(path: str, *, root_allowed: bool) -> bool:
    try:
        path_parts(path, root_allowed=root_allowed)
    except UnsafePath:
        return False
    return True


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(st.text(PATH_ALPHABET, max_size=14))
@example("x" * 255)
@example("x" * 256)
@example("a/" + "y" * 256)
def test_the_published_path_patterns_accept_exactly_the_paths_the_server_accepts(path):
    assert accepted(path, root_allowed=False) == bool(re.fullmatch(FILE_PATTERN, path)), path
    as_folder = path == "" or bool(re.fullmatch(FOLDER_PATTERN, path))
    assert accepted(path, root_allowed=True) == as_folder, path


@pytest.fixture
def schema(client) -> dict[str, Any]:
    return client.get("/api/openapi.json").json()


def inlined(node: Any, document: dict[str, Any]) -> Any:
    """`node` with its `$ref`s replaced and OpenAPI 3.0's `nullable` as JSON Schema says it."""
    if isinstance(node, list):
        return [inlined(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return inlined(document["components"]["schemas"][node["$ref"].split("/")[-1]], document)
    result = {key: inlined(value, document) for key, value in node.items()}
    if result.pop("nullable", False):
        result = {"anyOf": [result, {"type": "null"}]}
    return result


def answer_schema(schema: dict[str, Any], method: str, path: str, status: int = 200) -> dict:
    content = schema["paths"][path][method]["responses"][str(status)]["content"]
    return inlined(content["application/json"]["schema"], schema)


@pytest.mark.django_db
class TestAnswers:
    def change_something(self, client, session) -> None:
        copy = working_copy(client, session)
        (copy / "README.md").rename(copy / "READ_ME.md")
        (copy / "logo.bin").write_bytes(b"\x00\x01")
        (copy / "new.txt").write_text("new\n")

    def test_every_session_diff_answer_matches_the_schema(self, client, session, schema):
        self.change_something(client, session)
        expected = answer_schema(schema, "get", f"{SESSION}/diff")

        answers = [
            client.get(f"{session}/diff"),
            client.get(f"{session}/diff", {"format": "files"}),
            client.get(f"{session}/diff", {"path": "READ_ME.md"}),
            client.get(f"{session}/diff", {"path": "src/app.py"}),
        ]

        for response in answers:
            assert response.status_code == 200
            jsonschema.validate(response.json(), expected)
        assert answers[2].json()["status"] == "renamed"
        assert answers[3].json()["status"] == "unchanged"

    def test_the_files_and_git_answers_match_the_schema(
        self, client, session, git_url, repo, schema
    ):
        (repo / "README.md").write_text("edited\n")
        calls = [
            (f"{SESSION}/files", client.get(f"{session}/files")),
            (f"{SESSION}/files/read", client.get(f"{session}/files/read", {"path": "logo.bin"})),
            (f"{SESSION}/files/search", client.get(f"{session}/files/search", {"q": "app"})),
            (f"{GIT}/status", client.get(f"{git_url}/status")),
            (f"{GIT}/branches", client.get(f"{git_url}/branches")),
            (f"{GIT}/diff", client.get(f"{git_url}/diff")),
            (f"{GIT}/files", client.get(f"{git_url}/files")),
            (f"{GIT}/file", client.get(f"{git_url}/file", {"path": "README.md"})),
            (f"{GIT}/log", client.get(f"{git_url}/log")),
        ]

        for path, response in calls:
            assert response.status_code == 200, path
            jsonschema.validate(response.json(), answer_schema(schema, "get", path))


@pytest.mark.django_db
class TestDescription:
    def parameters(self, schema, method, path) -> dict[str, dict]:
        operation = schema["paths"][path][method]
        return {
            p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"
        }

    def test_query_parameters_state_their_types_and_rules(self, schema):
        diff = self.parameters(schema, "get", f"{SESSION}/diff")
        listing = self.parameters(schema, "get", f"{SESSION}/files")
        read = self.parameters(schema, "get", f"{SESSION}/files/read")
        log = self.parameters(schema, "get", f"{GIT}/log")

        assert diff["format"]["enum"] == ["files"]
        assert diff["path"]["pattern"] == published(FILE_PATTERN)
        assert listing["hidden"]["type"] == read["fromBase"]["type"] == "boolean"
        assert (log["limit"]["type"], log["limit"]["minimum"], log["limit"]["maximum"]) == (
            "integer",
            1,
            500,
        )
        assert log["ref"]["oneOf"][0]["maxLength"] == 255

    def test_every_operation_declares_the_errors_it_can_answer(self, schema):
        for method, path in OPERATIONS:
            declared = set(schema["paths"][path][method]["responses"])
            assert {"200", "400", "401", "403", "404", "409"} <= declared, (method, path)
            if method in ("put", "post") and not path.endswith("/fetch"):
                assert {"413", "415"} <= declared, (method, path)

    def test_request_bodies_state_their_rules(self, schema):
        components = schema["components"]["schemas"]
        stage = components["StageRequest"]["properties"]["paths"]
        commit = components["CommitRequest"]["properties"]

        assert (stage["minItems"], stage["maxItems"]) == (1, 1000)
        assert stage["items"]["pattern"] == published(FILE_PATTERN)
        assert commit["all"]["type"] == "boolean"
        assert components["CheckoutRequest"]["properties"]["ref"]["maxLength"] == 255


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"content": "plain text"},
        {"content": "aGVsbG8=", "encoding": "base64"},
        {"content": "aGVsbG8", "encoding": "base64"},
        {"content": "not base64!", "encoding": "base64"},
        {"content": "aGk=", "encoding": "base64", "originalContent": "aGVsbG8=="},
        {"content": "aGk=", "encoding": "base64", "originalContent": "x"},
        {"content": "aGk=", "encoding": "base64", "originalContent": None},
        {"content": "x", "encoding": "utf8", "originalContent": "no base64 needed"},
    ],
)
def test_a_write_body_is_valid_by_the_schema_exactly_when_the_server_takes_it(
    client, session, schema, fields
):
    sent = {"path": "notes.txt", **fields}
    valid = jsonschema.Draft7Validator(
        inlined(schema["components"]["schemas"]["FileWriteRequest"], schema)
    ).is_valid(sent)

    response = client.put(f"{session}/files/write", sent, format="json")

    # 409: a stale originalContent is a conflict, not a refusal of the body.
    assert (response.status_code in (200, 409)) == valid, response.json()
