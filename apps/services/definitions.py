"""The services a session declares: the files of `.discobot/services/` in its working copy,
each with an optional YAML front matter (agent API, Services module).

The working copy is written by the sandbox, so it is read as the files API reads it: through
folder descriptors, never through a symbolic link (`apps.gitops.paths.WorkTree`).
"""

from __future__ import annotations

import os
import re
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from apps.gitops.files import READ_FLAGS
from apps.gitops.paths import WorkTree
from apps.sandbox.provider import WORKSPACE

SERVICES_FOLDER = (".discobot", "services")
# A definition is a script, not data: anything bigger is not one.
DEFINITION_MAX_BYTES = 256 * 1024
# File names a preview host can carry in its first label (and a URL path segment).
SERVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,63}")
# Delimiter line → the comment prefix repeated on the lines between (`---`, `#---`, `//---`).
DELIMITERS = {"---": "", "#---": "#", "//---": "//"}


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    name: str
    description: str | None
    http: int | None
    https: int | None
    url_path: str | None
    passive: bool  # declares a port only: nothing is started

    @property
    def path(self) -> str:
        return f"{WORKSPACE}/{'/'.join(SERVICES_FOLDER)}/{self.id}"

    @property
    def port(self) -> int | None:
        return self.http or self.https


def front_matter_split(text: str) -> tuple[dict[str, Any], str]:
    """The front matter's fields and the body after it. A front matter that is not valid
    YAML (or not a mapping) counts as none: the file still runs."""
    lines = text.splitlines(keepends=True)
    start = 1 if lines and lines[0].startswith("#!") else 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    prefix = DELIMITERS.get(lines[start].strip()) if start < len(lines) else None
    if prefix is None:
        return {}, "".join(lines[start:])
    delimiter = lines[start].strip()
    for end in range(start + 1, len(lines)):
        if lines[end].strip() == delimiter:
            break
    else:
        return {}, "".join(lines[start:])
    inner = []
    for line in lines[start + 1 : end]:
        content = line.strip()
        if prefix and content.startswith(prefix):
            content = content[len(prefix) :].strip()
        inner.append(content)
    try:
        fields = yaml.safe_load("\n".join(inner))
    except yaml.YAMLError:
        fields = None
    return (fields if isinstance(fields, dict) else {}), "".join(lines[end + 1 :])


def port_field(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    return None


def text_field(value: object) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value) else None


def definition_parse(service_id: str, text: str, *, executable: bool) -> ServiceDefinition | None:
    """The service a file declares, or None when it declares none (neither runnable nor a
    port)."""
    fields, body = front_matter_split(text)
    http, https = port_field(fields.get("http")), port_field(fields.get("https"))
    passive = not body.strip()
    if passive and not (http or https):
        return None
    if not passive and not executable:
        return None
    url_path = text_field(fields.get("path"))
    return ServiceDefinition(
        id=service_id,
        name=text_field(fields.get("name")) or service_id,
        description=text_field(fields.get("description")),
        http=http,
        https=https,
        url_path=url_path if url_path and url_path.startswith("/") else None,
        passive=passive,
    )


def definitions_read(working_copy: Path) -> list[ServiceDefinition]:
    """The working copy's services, by id; none when it has no services folder."""
    found = []
    try:
        with WorkTree(working_copy) as tree, tree.folder(SERVICES_FOLDER) as folder:
            for name in sorted(os.listdir(folder)):
                if SERVICE_ID_PATTERN.fullmatch(name):
                    definition = definition_read(folder, name)
                    if definition is not None:
                        found.append(definition)
    except (FileNotFoundError, NotADirectoryError, OSError):  # no folder, or a link in its place
        return []
    return found


def definition_read(folder: int, name: str) -> ServiceDefinition | None:
    with suppress(OSError):
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode) or info.st_size > DEFINITION_MAX_BYTES:
            return None
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = handle.read(DEFINITION_MAX_BYTES)
        executable = bool(info.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        return definition_parse(name, data.decode("utf-8", errors="replace"), executable=executable)
    return None
