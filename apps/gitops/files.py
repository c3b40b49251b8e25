"""Files of a working copy, for the files API: every path stays inside its repository."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.gitops.provider import repository_lock
from discobot.errors import ApplicationError, ConflictError, NotFoundError

SEARCH_LIMIT_MAX = 200


class UnsafePath(ApplicationError):
    pass


def safe_path(root: Path, relative: str) -> Path:
    """`relative` inside `root`, symlinks resolved; `..`, absolute paths and `.git` refused."""
    if not relative or relative.startswith(("/", "\\")) or "\x00" in relative:
        raise UnsafePath("Path must be relative to the repository")
    parts = Path(relative).parts
    if ".." in parts:
        raise UnsafePath("Path may not contain ..")
    if parts and parts[0] == ".git":
        raise UnsafePath("The .git folder is not part of the files")
    real_root = root.resolve()
    candidate = (root / relative).resolve()
    if candidate != real_root and not candidate.is_relative_to(real_root):
        raise UnsafePath("Path leads outside the repository")
    return candidate


def relative_of(root: Path, path: Path) -> str:
    return path.relative_to(root.resolve()).as_posix()


def list_directory(root: Path, relative: str, *, hidden: bool) -> list[dict[str, object]]:
    directory = root.resolve() if relative in ("", ".") else safe_path(root, relative)
    if not directory.is_dir():
        raise NotFoundError(f"No folder {relative}")
    entries = []
    for entry in sorted(os.scandir(directory), key=lambda e: (not e.is_dir(), e.name)):
        if entry.name == ".git" or (not hidden and entry.name.startswith(".")):
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        item: dict[str, object] = {"name": entry.name, "type": "directory" if is_dir else "file"}
        if not is_dir:
            item["size"] = entry.stat(follow_symlinks=False).st_size
        entries.append(item)
    return entries


@dataclass
class FileContent:
    path: str
    content: str
    encoding: str
    size: int


def encode(path: str, data: bytes) -> FileContent:
    try:
        return FileContent(path, data.decode("utf-8"), "utf8", len(data))
    except UnicodeDecodeError:
        return FileContent(path, base64.b64encode(data).decode(), "base64", len(data))


def size_check(size: int) -> None:
    if size > settings.FILE_MAX_BYTES:
        raise ApplicationError(f"File is larger than the limit of {settings.FILE_MAX_BYTES} bytes")


def read_file(root: Path, relative: str) -> FileContent:
    path = safe_path(root, relative)
    if not path.is_file():
        raise NotFoundError(f"No file {relative}")
    size_check(path.stat().st_size)
    return encode(relative_of(root, path), path.read_bytes())


def decode(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except ValueError:
            raise ApplicationError("content is not valid base64") from None
    return content.encode("utf-8")


def write_file(
    root: Path, relative: str, *, content: str, encoding: str, original: str | None
) -> int:
    """Writes a file; with `original`, only if the file still holds it (else 409)."""
    data = decode(content, encoding)
    size_check(len(data))
    path = safe_path(root, relative)
    with repository_lock(root):
        if original is not None:
            current = path.read_bytes() if path.is_file() else b""
            if current != decode(original, encoding):
                raise ConflictError(
                    "The file changed since it was read",
                    extra={
                        "error": "conflict",
                        "message": "The file changed since it was read",
                        "currentContent": encode(relative, current).content,
                    },
                )
        if path.is_dir():
            raise ApplicationError(f"{relative} is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the repository's objects (same file system, never seen as a change),
        # then renamed into place, so nobody ever reads half a file.
        git_dir = root / ".git"
        staging = git_dir / "discobot-writes" if git_dir.is_dir() else path.parent
        staging.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=staging, delete=False) as temporary:
            temporary.write(data)
        os.replace(temporary.name, path)
    return len(data)


def delete_path(root: Path, relative: str) -> str:
    path = safe_path(root, relative)
    if path == root.resolve():
        raise UnsafePath("The repository itself cannot be deleted")
    with repository_lock(root):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            return "directory"
        if not path.exists() and not path.is_symlink():
            raise NotFoundError(f"No file {relative}")
        path.unlink()
        return "file"


def rename_path(root: Path, old: str, new: str) -> None:
    source, target = safe_path(root, old), safe_path(root, new)
    with repository_lock(root):
        if not source.exists():
            raise NotFoundError(f"No file {old}")
        if target.exists():
            raise ConflictError(f"{new} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)


def fuzzy_score(query: str, candidate: str) -> int | None:
    """Subsequence match: lower is better; None when `query` is not in `candidate` in order."""
    position, gaps, last = 0, 0, -1
    lowered = candidate.lower()
    for char in query.lower():
        found = lowered.find(char, position)
        if found < 0:
            return None
        if last >= 0:
            gaps += found - last - 1
        last, position = found, found + 1
    basename_bonus = 0 if query.lower() in Path(lowered).name else 1
    return basename_bonus * 1000 + gaps * 10 + len(candidate)


def search_files(root: Path, query: str, *, limit: int) -> list[dict[str, object]]:
    if not query:
        raise ApplicationError("q is required")
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    scored: list[tuple[int, str]] = []
    real_root = root.resolve()
    for directory, folders, files in os.walk(real_root):
        folders[:] = [f for f in folders if f != ".git"]
        for name in files:
            relative = (Path(directory) / name).relative_to(real_root).as_posix()
            score = fuzzy_score(query, relative)
            if score is not None:
                scored.append((score, relative))
    scored.sort()
    return [{"path": path, "score": score} for score, path in scored[:limit]]
