"""Files of a working copy, for the files API: every path stays in its work tree and out of its
git folders (see `apps.gitops.paths`)."""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.gitops.paths import FOLDER_FLAGS, WorkTree, is_git_name, os_errors, shown
from apps.gitops.provider import git_provider, repository_lock
from discobot.errors import ApplicationError, ConflictError, NotFoundError

SEARCH_LIMIT_MAX = 200
# Padded base64, as the schema states it (apps.workspaces.api.schema).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# Reads never wait: a FIFO or a device in the tree must not hold a request.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
STAGING_FOLDER = "discobot-writes"


class FileTooLarge(ApplicationError):
    status_code = 413


def repository_path(root: Path, relative: str) -> str:
    """A client's path as the repository names it: folders on the way resolved, the last
    component as written (a symlink is an entry of its own in git)."""
    with WorkTree(root) as tree, os_errors(relative):
        return "/".join(tree.resolve(relative, follow=False))


def list_directory(root: Path, relative: str, *, hidden: bool) -> list[dict[str, object]]:
    with WorkTree(root) as tree, os_errors(relative):
        parts = tree.resolve(relative, root_allowed=True)
        entries = []
        try:
            with tree.folder(parts) as folder, os.scandir(folder) as scan:
                for entry in scan:
                    if is_git_name(entry.name) or (not hidden and entry.name.startswith(".")):
                        continue
                    item: dict[str, object] = {"name": shown(entry.name), "type": "file"}
                    with suppress(FileNotFoundError):  # gone meanwhile
                        if entry.is_dir(follow_symlinks=False):
                            item["type"] = "directory"
                        else:
                            item["size"] = entry.stat(follow_symlinks=False).st_size
                        entries.append(item)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"No folder {relative}") from None
    return sorted(entries, key=lambda item: (item["type"] != "directory", str(item["name"])))


@dataclass
class FileContent:
    path: str
    content: str
    encoding: str
    size: int


def encode(path: str, data: bytes) -> FileContent:
    try:
        return FileContent(shown(path), data.decode("utf-8"), "utf8", len(data))
    except UnicodeDecodeError:
        return FileContent(shown(path), base64.b64encode(data).decode(), "base64", len(data))


def size_check(size: int) -> None:
    if size > settings.FILE_MAX_BYTES:
        raise ApplicationError(f"File is larger than the limit of {settings.FILE_MAX_BYTES} bytes")


def read_bytes(folder: int, name: str, relative: str) -> bytes:
    """The content of the regular file `name` in `folder`, never through a link."""
    # Opening a socket fails and opening a device may do things: only files are opened.
    if not stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
        raise NotFoundError(f"No file {relative}")
    fd = os.open(name, READ_FLAGS, dir_fd=folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotFoundError(f"No file {relative}")
    with os.fdopen(fd, "rb") as handle:
        size_check(info.st_size)
        data = handle.read(settings.FILE_MAX_BYTES + 1)
    size_check(len(data))  # it grew meanwhile
    return data


def read_file(root: Path, relative: str) -> FileContent:
    with WorkTree(root) as tree, os_errors(relative):
        parts = tree.resolve(relative)
        with tree.folder(parts[:-1]) as folder:
            data = read_bytes(folder, parts[-1], relative)
    return encode("/".join(parts), data)


def read_file_at(root: Path, relative: str, *, ref: str) -> FileContent:
    """A file as the commit `ref` holds it."""
    path = repository_path(root, relative)
    data = git_provider().read_blob(root, path=path, ref=ref)
    size_check(len(data))
    return encode(path, data)


def decode(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        if not re.fullmatch(BASE64_PATTERN, content):
            raise ApplicationError("content is not valid base64")
        return base64.b64decode(content)
    return content.encode("utf-8")


def lstat_or_none(folder: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


@contextmanager
def staging_folder(tree: WorkTree, folder: int) -> Iterator[int]:
    """Where a write is prepared: beside the repository's objects (the same file system, never
    seen as a change), or in the file's own folder when there is no git folder."""
    try:
        with tree.folder([".git"]) as git_dir:
            with suppress(FileExistsError):
                os.mkdir(STAGING_FOLDER, 0o700, dir_fd=git_dir)
            staging = os.open(STAGING_FOLDER, FOLDER_FLAGS, dir_fd=git_dir)
    except OSError:
        staging = os.dup(folder)
    try:
        yield staging
    finally:
        os.close(staging)


def write_file(
    root: Path, relative: str, *, content: str, encoding: str, original: str | None
) -> int:
    """Writes a file; with `original`, only if the file still holds it (else 409). An existing
    file keeps its mode; a new one gets the umask's default, as any program would create it.
    Nothing changes on disk (not even a folder) unless the file is written."""
    data = decode(content, encoding)
    if len(data) > settings.FILE_MAX_BYTES:
        raise FileTooLarge(f"File is larger than the limit of {settings.FILE_MAX_BYTES} bytes")
    expected = None if original is None else decode(original, encoding)
    with WorkTree(root) as tree, repository_lock(root), os_errors(relative):
        parts = tree.resolve(relative)
        if expected is not None:
            current = current_content(tree, parts, relative)
            if current != expected:
                raise ConflictError(
                    "The file changed since it was read",
                    extra={
                        "error": "conflict",
                        "message": "The file changed since it was read",
                        "currentContent": encode(relative, current).content,
                    },
                )
        else:
            write_target_check(tree, parts, relative)
        with tree.folder(parts[:-1], create=True) as folder:
            existing = lstat_or_none(folder, parts[-1])
            # Written aside, then renamed into place, so nobody ever reads half a file.
            with staging_folder(tree, folder) as staging:
                temporary = f".discobot-write-{secrets.token_hex(8)}"
                fd = os.open(temporary, WRITE_FLAGS, 0o666, dir_fd=staging)
                try:
                    with os.fdopen(fd, "wb") as handle:
                        if existing is not None:
                            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
                        handle.write(data)
                    os.replace(temporary, parts[-1], src_dir_fd=staging, dst_dir_fd=folder)
                except BaseException:
                    with suppress(OSError):
                        os.unlink(temporary, dir_fd=staging)
                    raise
    return len(data)


def write_target_check(tree: WorkTree, parts: tuple[str, ...], relative: str) -> bool:
    """Whether a write replaces a file (or makes a new one); a folder, or anything else than
    a plain file, is a conflict."""
    try:
        with tree.folder(parts[:-1]) as folder:
            existing = lstat_or_none(folder, parts[-1])
    except FileNotFoundError:  # its folder does not exist yet
        return False
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise ConflictError(f"{relative} is a folder")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise ConflictError(f"{relative} is not a regular file")
    return existing is not None


def current_content(tree: WorkTree, parts: tuple[str, ...], relative: str) -> bytes:
    """What a write would replace (nothing for a new file)."""
    if not write_target_check(tree, parts, relative):
        return b""
    with tree.folder(parts[:-1]) as folder:
        return read_bytes(folder, parts[-1], relative)


def delete_path(root: Path, relative: str) -> str:
    """Deletes a file or a folder; a symlink is deleted itself, never what it points to."""
    with WorkTree(root) as tree, repository_lock(root), os_errors(relative):
        parts = tree.resolve(relative, follow=False)
        with tree.folder(parts[:-1]) as folder:
            info = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(parts[-1], dir_fd=folder)
                return "directory"
            os.unlink(parts[-1], dir_fd=folder)
            return "file"


def rename_path(root: Path, old: str, new: str) -> None:
    """Renames or moves a file or folder (a symlink itself); never onto something that exists,
    and never a folder into itself."""
    with WorkTree(root) as tree, repository_lock(root):
        with os_errors(old):
            source = tree.resolve(old, follow=False)
            with tree.folder(source[:-1]) as folder:
                info = os.stat(source[-1], dir_fd=folder, follow_symlinks=False)
        with os_errors(new):
            target = tree.resolve(new, follow=False)
            if stat.S_ISDIR(info.st_mode) and target[: len(source)] == source:
                raise ConflictError(f"A folder cannot be moved into itself: {old} to {new}")
            with (
                tree.folder(source[:-1]) as source_folder,
                tree.folder(target[:-1], create=True) as target_folder,
            ):
                if lstat_or_none(target_folder, target[-1]) is not None:
                    raise ConflictError(f"{new} already exists")
                os.rename(
                    source[-1], target[-1], src_dir_fd=source_folder, dst_dir_fd=target_folder
                )


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
    with WorkTree(root) as tree:
        # fwalk lists each folder through a descriptor and never follows a link.
        for directory, folders, names, _ in os.fwalk(".", dir_fd=tree.fd):
            folders[:] = [f for f in folders if not is_git_name(f)]
            for name in names:
                relative = shown(os.path.normpath(os.path.join(directory, name)))
                score = fuzzy_score(query, relative)
                if score is not None:
                    scored.append((score, relative))
    scored.sort()
    return [{"path": path, "score": score} for score, path in scored[:limit]]
