"""Configuration comes from the environment only; a bad production set-up stops at once."""

from __future__ import annotations

import pytest

from tests.servers import clean_environment, manage

STRONG_SECRET = "s" * 24 + "-not-a-default-0123456789"
STRONG_KEY = "ab" * 32
PRINT_DATABASE = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d['ENGINE'], d['NAME'])"
)


def shell(code: str, **env: str):
    return manage("shell", "--no-imports", "-c", code, env=clean_environment(**env))


def test_anonymous_mode_needs_no_configuration(tmp_path):
    env = clean_environment(DATA_DIR=str(tmp_path))

    migrated = manage("migrate", "--noinput", env=env)
    checked = manage("check", env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "discobot.db").is_file()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "SESSION_SECRET"),
        ({"SESSION_SECRET": "too-short"}, "SESSION_SECRET"),
        (
            {"SESSION_SECRET": "discobot-dev-session-secret-not-for-production"},
            "SESSION_SECRET",
        ),
        ({"SESSION_SECRET": STRONG_SECRET}, "ENCRYPTION_KEY"),
        ({"SESSION_SECRET": STRONG_SECRET, "ENCRYPTION_KEY": "abc"}, "ENCRYPTION_KEY"),
        ({"SESSION_SECRET": STRONG_SECRET, "ENCRYPTION_KEY": "zz" * 32}, "ENCRYPTION_KEY"),
        (
            {"SESSION_SECRET": STRONG_SECRET, "ENCRYPTION_KEY": "0123456789abcdef" * 4},
            "ENCRYPTION_KEY",
        ),
    ],
)
def test_auth_on_with_a_missing_or_weak_secret_fails_with_one_line(tmp_path, variables, named):
    env = clean_environment(DATA_DIR=str(tmp_path), AUTH_ENABLED="true", **variables)

    result = manage("check", env=env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert lines[0].startswith("discobot: configuration error:")


def test_auth_on_with_strong_secrets_starts(tmp_path):
    env = clean_environment(
        DATA_DIR=str(tmp_path),
        AUTH_ENABLED="true",
        SESSION_SECRET=STRONG_SECRET,
        ENCRYPTION_KEY=STRONG_KEY,
    )

    result = manage("check", env=env)

    assert result.returncode == 0, result.stderr


def test_secrets_may_come_from_files(tmp_path):
    (tmp_path / "secret").write_text(STRONG_SECRET + "\n")
    (tmp_path / "key").write_text(STRONG_KEY)

    result = shell(
        "from django.conf import settings; print(settings.SECRET_KEY == "
        f"{STRONG_SECRET!r}, settings.ENCRYPTION_KEY == {STRONG_KEY!r})",
        DATA_DIR=str(tmp_path),
        AUTH_ENABLED="true",
        SESSION_SECRET_FILE=str(tmp_path / "secret"),
        ENCRYPTION_KEY_FILE=str(tmp_path / "key"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path):
    result = shell(PRINT_DATABASE, DATA_DIR=str(tmp_path))

    assert result.stdout.split() == ["discobot.sqlite3", str(tmp_path / "discobot.db")]


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("sqlite3://{tmp}/x.db", ["discobot.sqlite3", "{tmp}/x.db"]),
        ("sqlite://{tmp}/y.db", ["discobot.sqlite3", "{tmp}/y.db"]),
        ("{tmp}/z.sqlite", ["discobot.sqlite3", "{tmp}/z.sqlite"]),
        ("postgres://u@127.0.0.1:5432/discobot", ["django.db.backends.postgresql", "discobot"]),
        ("postgresql://u@127.0.0.1/other", ["django.db.backends.postgresql", "other"]),
    ],
)
def test_database_dsn_accepts_the_contract_forms(tmp_path, dsn, expected):
    result = shell(PRINT_DATABASE, DATA_DIR=str(tmp_path), DATABASE_DSN=dsn.format(tmp=tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [part.format(tmp=tmp_path) for part in expected]


def test_database_url_wins_over_database_dsn(tmp_path):
    result = shell(
        PRINT_DATABASE,
        DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://u@127.0.0.1:5432/from_url",
        DATABASE_DSN="sqlite3:///tmp/ignored.db",
    )

    assert result.stdout.split() == ["django.db.backends.postgresql", "from_url"]


def test_unknown_database_scheme_fails_with_one_line(tmp_path):
    result = manage(
        "check", env=clean_environment(DATA_DIR=str(tmp_path), DATABASE_URL="mongodb://x/y")
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "discobot: configuration error: DATABASE_URL must be a sqlite:// or postgres:// URL"
    ]


def test_redis_url_selects_the_redis_channel_layer(tmp_path):
    code = "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"

    default = shell(code, DATA_DIR=str(tmp_path))
    with_redis = shell(code, DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/0")

    assert default.stdout.strip() == "channels.layers.InMemoryChannelLayer"
    assert with_redis.stdout.strip() == "channels_redis.core.RedisChannelLayer"


def production_environment(tmp_path, **overrides: str) -> dict[str, str]:
    """The documented production set-up: auth on, strong secrets, the public https URL."""
    workspaces = tmp_path / "workspaces"
    workspaces.mkdir(exist_ok=True)
    production = {
        "DATA_DIR": str(tmp_path),
        "DEBUG": "false",
        "AUTH_ENABLED": "true",
        "SESSION_SECRET": "p" * 20 + "-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ENCRYPTION_KEY": STRONG_KEY,
        "PUBLIC_URL": "https://discobot.example.com",
        "TRUSTED_PROXIES": "10.0.0.0/8",
        "WORKSPACE_ROOTS": str(workspaces),
    }
    return clean_environment(**{**production, **overrides})


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_environment(tmp_path)
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variables", "warned"),
    [
        ({"PUBLIC_URL": ""}, ["security.W004", "security.W008", "security.W012"]),
        ({"PUBLIC_URL": "http://discobot.example.com"}, ["security.W008", "security.W016"]),
        ({"HSTS_SECONDS": "0"}, ["security.W004"]),
        ({"SECURE_COOKIES": "false"}, ["security.W012", "security.W016"]),
    ],
)
def test_without_the_production_settings_the_deployment_checks_warn(tmp_path, variables, warned):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_environment(tmp_path, **variables),
    )

    assert result.returncode != 0
    for check in warned:
        assert check in result.stderr


def test_https_settings_follow_the_public_url(tmp_path):
    code = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, '.discobot.example.com' in "
        "s.ALLOWED_HOSTS)"
    )

    public = shell(code, DATA_DIR=str(tmp_path), PUBLIC_URL="https://discobot.example.com")
    local = shell(code, DATA_DIR=str(tmp_path))

    assert public.stdout.split() == ["True", "True", "True", "True"]
    assert local.stdout.split() == ["False", "False", "False", "False"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRUSTED_PROXIES", "10.0.0.0/8,proxy.example"), ("LOG_FORMAT", "xml")],
)
def test_a_malformed_operations_setting_fails_with_one_line(tmp_path, variable, value):
    result = manage("check", env=clean_environment(DATA_DIR=str(tmp_path), **{variable: value}))

    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_the_database_and_redis_urls_may_come_from_files(tmp_path):
    (tmp_path / "database").write_text(f"sqlite:///{tmp_path}/from-file.db\n")

    result = shell(
        PRINT_DATABASE, DATA_DIR=str(tmp_path), DATABASE_URL_FILE=str(tmp_path / "database")
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == f"{tmp_path}/from-file.db"
