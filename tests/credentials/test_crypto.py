"""AES-256-GCM at rest: integrity, binding to the row, key rotation."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.agents.models import AgentMCPServer
from apps.agents.selectors import mcp_server_secrets
from apps.agents.services import mcp_servers_replace
from apps.chat.models import ChatTurn
from apps.core import crypto
from apps.core.crypto import (
    DecryptionError,
    EncryptedField,
    current_key,
    encrypted_field_register,
    encrypted_fields,
    seal,
    unseal,
)
from apps.credentials.models import Credential
from apps.credentials.selectors import credential_secret
from apps.credentials.services import credential_api_key_store
from apps.terminal.models import TerminalTranscript
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

OLD_KEY = "11" * 32
NEW_KEY = "22" * 32


def test_round_trip_with_associated_data():
    blob, key_id = seal(b"secret", associated_data=b"row-1")

    assert unseal(blob, key_id=key_id, associated_data=b"row-1") == b"secret"
    assert b"secret" not in blob


def test_each_value_gets_its_own_nonce():
    first, _ = seal(b"same", associated_data=b"a")
    second, _ = seal(b"same", associated_data=b"a")

    assert first != second


def test_a_tampered_ciphertext_is_refused():
    blob, key_id = seal(b"secret", associated_data=b"row-1")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])

    with pytest.raises(DecryptionError, match="integrity check"):
        unseal(tampered, key_id=key_id, associated_data=b"row-1")


def test_a_ciphertext_copied_to_another_row_is_refused(project, other_project):
    mine = credential_api_key_store(project=project, provider="openai", api_key="sk-mine")
    theirs = credential_api_key_store(project=other_project, provider="openai", api_key="sk-x")
    Credential.objects.filter(id=theirs.id).update(encrypted_data=mine.encrypted_data)

    with pytest.raises(DecryptionError) as refused:
        credential_secret(Credential.objects.get(id=theirs.id))
    assert "sk-mine" not in str(refused.value)


def test_a_wrong_key_names_the_setting(project, settings):
    credential = credential_api_key_store(project=project, provider="openai", api_key="sk-1")
    settings.ENCRYPTION_KEY = NEW_KEY

    with pytest.raises(DecryptionError, match="ENCRYPTION_KEY"):
        credential_secret(credential)


def test_a_malformed_key_names_the_setting(settings):
    settings.ENCRYPTION_KEY = "not-hex"

    with pytest.raises(DecryptionError, match="ENCRYPTION_KEY must be 64 hexadecimal"):
        seal(b"x", associated_data=b"")


def test_the_api_answers_a_wrong_key_with_a_clear_503(client, base, settings, upstream):
    client.post(base, {"provider": "openai", "apiKey": "sk-secret-1"}, format="json")
    settings.ENCRYPTION_KEY = NEW_KEY

    response = client.post(f"{base}/openai/test")

    assert response.status_code == 503
    assert "ENCRYPTION_KEY" in response.json()["error"]
    assert "sk-secret-1" not in response.content.decode()


@pytest.fixture
def sealed_under_old_key(settings, project):
    """Three credentials and an MCP server sealed under OLD_KEY; then NEW_KEY becomes current."""
    settings.ENCRYPTION_KEY = OLD_KEY
    for provider in ("openai", "anthropic", "deepseek"):
        credential_api_key_store(project=project, provider=provider, api_key=f"sk-{provider}")
    agent = AgentFactory.create(project=project)
    mcp_servers_replace(
        agent=agent,
        servers=[{"name": "s", "config": {"type": "stdio", "command": "x", "env": {"K": "v"}}}],
    )
    settings.ENCRYPTION_KEY = NEW_KEY
    settings.ENCRYPTION_KEYS_OLD = [OLD_KEY]


def all_readable() -> bool:
    secrets = {c.provider: credential_secret(c)["api_key"] for c in Credential.objects.all()}
    server = AgentMCPServer.objects.get()
    return secrets == {p: f"sk-{p}" for p in ("openai", "anthropic", "deepseek")} and (
        mcp_server_secrets(server) == {"env": {"K": "v"}}
    )


def key_ids() -> set[str]:
    return set(Credential.objects.values_list("key_id", flat=True)) | set(
        AgentMCPServer.objects.values_list("secrets_key_id", flat=True)
    )


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


def test_old_key_values_stay_readable_before_rotation(sealed_under_old_key):
    assert all_readable()
    assert current_key()[0] not in key_ids()


def test_rotation_reseals_everything_under_the_current_key(sealed_under_old_key, settings):
    assert rotate() == "Re-encrypted 4 secrets.\n"

    assert key_ids() == {current_key()[0]}
    settings.ENCRYPTION_KEYS_OLD = []
    assert all_readable()


def test_an_interrupted_rotation_finishes_when_run_again(sealed_under_old_key, settings):
    rotate("--batch-size", "1", "--max-batches", "2")  # stops halfway

    assert len(key_ids()) == 2
    assert all_readable()

    rotate("--batch-size", "1")
    assert key_ids() == {current_key()[0]}
    settings.ENCRYPTION_KEYS_OLD = []
    assert all_readable()
    assert rotate() == "Re-encrypted 0 secrets.\n"


def test_rotation_without_the_old_key_stops_with_a_clear_error(sealed_under_old_key, settings):
    settings.ENCRYPTION_KEYS_OLD = []

    with pytest.raises(CommandError, match="ENCRYPTION_KEYS_OLD"):
        rotate()


def test_every_secret_holding_field_is_registered():
    registered = {(field.model, field.ciphertext) for field in encrypted_fields()}

    assert registered == {
        (Credential, "encrypted_data"),
        (AgentMCPServer, "encrypted_secrets"),
        (ChatTurn, "caller_tokens"),
        (TerminalTranscript, "caller_tokens"),
    }


def test_a_newly_registered_field_is_rotated_too(sealed_under_old_key, settings, monkeypatch):
    """A secret-holding model only registers its field: here a second kind of secret in the
    credentials' rows, bound to them its own way, takes the place of their registration."""
    notes = EncryptedField(
        model=Credential,
        ciphertext="encrypted_data",
        key_id="key_id",
        binding=lambda credential: f"note:{credential.id}".encode(),
        project_lookup="project_id",
        secret_values=lambda note: [note],
    )
    settings.ENCRYPTION_KEY = OLD_KEY
    for credential in Credential.objects.all():
        notes.seal(credential, f"note of {credential.provider}")
        credential.save()
    settings.ENCRYPTION_KEY = NEW_KEY
    monkeypatch.setattr(crypto, "_registry", dict(crypto._registry))

    encrypted_field_register(notes)

    assert rotate() == "Re-encrypted 4 secrets.\n"
    settings.ENCRYPTION_KEYS_OLD = []
    assert {notes.open(c) for c in Credential.objects.all()} == {
        f"note of {provider}" for provider in ("openai", "anthropic", "deepseek")
    }
    assert mcp_server_secrets(AgentMCPServer.objects.get()) == {"env": {"K": "v"}}


APPS = Path(__file__).resolve().parents[2] / "apps"


def imported_modules(app: str) -> set[str]:
    modules: set[str] = set()
    for source in (APPS / app).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module)
    return modules


@pytest.mark.parametrize(
    ("app", "forbidden"),
    [("credentials", "apps.agents"), ("agents", "apps.credentials")],
)
def test_credentials_and_agents_do_not_import_each_other(app, forbidden):
    assert not {m for m in imported_modules(app) if m.split(".")[:2] == forbidden.split(".")}


def test_the_platform_imports_no_domain_app():
    imported_apps = {m for m in imported_modules("core") if m.startswith("apps.")}

    assert all(module.startswith("apps.core") for module in imported_apps)
