"""Backing up and restoring an installation: the database and the server's folders.

A backup is a folder holding `manifest.json`, the database (`database.dump`, PostgreSQL's
custom format from `pg_dump`, or `database.sqlite3`, a consistent copy made with SQLite's
backup API) and `files.tar.gz` (DATA_DIR, WORKSPACE_DIR and SESSIONS_DIR). It holds no key:
the secrets in the database stay sealed under ENCRYPTION_KEY, which the operator keeps apart
(a backup that carried its key would hand every secret to whoever reads it).

The database names files by their absolute paths (a workspace's clone, a session's working
copy), so a restore puts the folders back where they were and refuses settings that point
elsewhere. It also refuses a database that has tables or folders that hold files: it restores
into a new installation, never over a live one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

MANIFEST = "manifest.json"
FILES = "files.tar.gz"
POSTGRESQL_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
FORMAT_VERSION = 1
# Runtime files that mean nothing in another process's life: tmux's sockets, lock files.
SKIPPED_FOLDERS = ("tmux", "locks")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what the operator should do."""


@dataclass(frozen=True)
class Folders:
    data: Path
    workspaces: Path
    sessions: Path

    def named(self) -> dict[str, Path]:
        return {"data": self.data, "workspaces": self.workspaces, "sessions": self.sessions}


def folders_configured() -> Folders:
    return Folders(
        data=Path(os.path.realpath(settings.DATA_DIR)),
        workspaces=Path(os.path.realpath(settings.WORKSPACE_DIR)),
        sessions=Path(os.path.realpath(settings.SESSIONS_DIR)),
    )


def database_kind() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("postgresql"):
        return "postgresql"
    if engine.endswith("sqlite3"):
        return "sqlite"
    raise BackupError(f"Backups support PostgreSQL and SQLite, not {engine}")


def sqlite_files() -> set[Path]:
    """The SQLite database and its journal files, copied by the backup API, never by tar."""
    if database_kind() != "sqlite":
        return set()
    name = Path(os.path.realpath(settings.DATABASES["default"]["NAME"]))
    return {name, *(name.with_name(name.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}


def postgresql_command(program: str) -> tuple[list[str], dict[str, str]]:
    """`program` with the connection of DATABASE_URL; the password travels in the environment,
    not on a command line every user of the machine can read."""
    database: dict[str, Any] = settings.DATABASES["default"]
    arguments = [program, "--no-owner", "--no-privileges", f"--dbname={database['NAME']}"]
    if database.get("HOST"):
        arguments.append(f"--host={database['HOST']}")
    if database.get("PORT"):
        arguments.append(f"--port={database['PORT']}")
    if database.get("USER"):
        arguments.append(f"--username={database['USER']}")
    environment = dict(os.environ)
    if database.get("PASSWORD"):
        environment["PGPASSWORD"] = str(database["PASSWORD"])
    return arguments, environment


def run(arguments: list[str], environment: dict[str, str]) -> None:
    try:
        done = subprocess.run(arguments, env=environment, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(
            f"{arguments[0]} is not installed (PostgreSQL's client tools, e.g. "
            "`apt-get install postgresql-client`)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{arguments[0]} failed: {done.stderr.strip()}")


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, also while other processes write to it."""
    with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(target)) as writer:
        reader.backup(writer)


def distinct_folders(folders: Folders) -> dict[str, Path]:
    """The folders to archive, less those inside another (WORKSPACE_DIR and SESSIONS_DIR lie
    in DATA_DIR by default)."""
    named = folders.named()
    return {
        name: path
        for name, path in named.items()
        if not any(path != other and path.is_relative_to(other) for other in named.values())
    }


def backup_create(*, output: Path) -> dict[str, Any]:
    """Writes a backup of this installation into `output`, a new folder; returns its manifest.

    Safe while the server runs: pg_dump reads one snapshot and SQLite's backup API copies a
    consistent file. The folders are read as they are, so a working copy being written at that
    moment may be caught half-way: stop the worker first for a copy at rest.
    """
    folders = folders_configured()
    output = Path(os.path.realpath(output))
    if any(output.is_relative_to(folder) for folder in folders.named().values()):
        raise BackupError(f"{output} lies inside the folders it would back up; choose another")
    if output.exists() and any(output.iterdir()):
        raise BackupError(f"{output} is not empty; back up into a new folder")
    output.mkdir(parents=True, exist_ok=True)
    kind = database_kind()
    if kind == "postgresql":
        arguments, environment = postgresql_command("pg_dump")
        run([*arguments, "--format=custom", f"--file={output / POSTGRESQL_DUMP}"], environment)
    else:
        sqlite_copy(Path(settings.DATABASES["default"]["NAME"]), output / SQLITE_COPY)
    skipped = sqlite_files() | {folders.data / name for name in SKIPPED_FOLDERS}
    with tarfile.open(output / FILES, "w:gz") as archive:
        for folder in distinct_folders(folders).values():
            if folder.exists():
                # Members keep their absolute path (less the leading `/`): the database names
                # files by it.
                archive.add(
                    folder,
                    arcname=str(folder).lstrip("/"),
                    filter=lambda member: None if Path("/" + member.name) in skipped else member,
                )
    manifest = {
        "version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "database": kind,
        "folders": {name: str(path) for name, path in folders.named().items()},
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def files_in(folder: Path, allowed: set[Path]) -> Iterator[Path]:
    """The files under `folder` (folders aside) that are not in `allowed`."""
    if folder.is_dir():
        for path in folder.rglob("*"):
            if not path.is_dir() and path not in allowed:
                yield path


def backup_restore(*, source: Path) -> dict[str, Any]:
    """Restores the backup in `source` into this installation: an empty database (DATABASE_URL;
    run `migrate` after it) and the folders where the backup took them from."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a Discobot backup") from None
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"Unknown backup format {manifest.get('version')!r}")
    kind = database_kind()
    if manifest["database"] != kind:
        raise BackupError(
            f"The backup holds a {manifest['database']} database; DATABASE_URL names {kind}"
        )
    folders = folders_configured()
    setting_names = {"data": "DATA_DIR", "workspaces": "WORKSPACE_DIR", "sessions": "SESSIONS_DIR"}
    for name, path in folders.named().items():
        if str(path) != manifest["folders"][name]:
            raise BackupError(
                f"The database names files under {manifest['folders'][name]}: set "
                f"{setting_names[name]} to it (it is {path})"
            )
    if connection.introspection.table_names():
        raise BackupError(
            "The database already has tables; restore into a new, empty database (createdb)"
        )
    connection.close()
    database_files = sqlite_files()
    for folder in folders.named().values():
        if next(files_in(folder, database_files), None) is not None:
            raise BackupError(f"{folder} holds files; restore into empty folders")
    with tarfile.open(source / FILES, "r:gz") as archive:
        members = archive.getmembers()
        # Checked before anything is written: a restore stops whole or not at all.
        for member in members:
            if not any(Path("/" + member.name).is_relative_to(f) for f in folders.named().values()):
                raise BackupError(f"{FILES} holds {member.name}, outside the backed-up folders")
        if kind == "postgresql":
            arguments, environment = postgresql_command("pg_restore")
            restore = [*arguments, "--exit-on-error", "--single-transaction"]
            run([*restore, str(source / POSTGRESQL_DUMP)], environment)
        else:
            sqlite_copy(source / SQLITE_COPY, Path(settings.DATABASES["default"]["NAME"]))
        # The `tar` filter keeps modes and symlinks (a working copy's own) but drops
        # set-user-id bits.
        archive.extractall("/", members=members, filter="tar")
    return manifest
