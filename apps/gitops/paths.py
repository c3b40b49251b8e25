"""Paths inside a repository's work tree, looked up so that none leads into a git folder or out.

Each component is looked up relative to an open descriptor of the folder before it, without
following symlinks; a link is read and followed by hand, and only while it stays in the work
tree. An operation then acts on a name inside a folder it opened the same way, so a link swapped
in meanwhile (a sandbox writes the same tree) can neither redirect it nor lead it out.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from discobot.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError

NAME_MAX = 255  # characters here; file systems count 255 bytes (see `os_errors`)
PATH_MAX_CHARS = 4096
SYMLINKS_MAX = 40  # MAXSYMLINKS: the links Linux follows in one lookup
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

GIT_FOLDER = "The .git folder is not part of the files"
OUTSIDE = "Path leads outside the repository"

# The rules of `path_parts`, as the API schema states them.
_COMPONENT = r"(?!\.\.(?:/|$))(?!\.[Gg][Ii][Tt](?:/|$))[^/\\\x00-\x1f\x7f]{0,255}"
_PATH = rf"(?!/){_COMPONENT}(?:/{_COMPONENT})*$"
# A folder to list: `.` is the root (so is the empty string, which the schema states apart).
FOLDER_PATTERN = rf"^(?=.){_PATH}"
# A path that names something below the root: one component is neither empty nor `.`.
FILE_PATTERN = rf"^(?=(?:.*/)?(?!\.?(?:/|$))[^/]){_PATH}"


class UnsafePath(ApplicationError):
    pass


def is_git_name(name: str) -> bool:
    # Case-insensitive file systems (macOS, Windows shares) take `.GIT` for `.git`.
    return name.lower() == ".git"


def shown(name: str) -> str:
    """A name from the disk or a repository as JSON can carry it: bytes that are not UTF-8
    (which Python keeps as lone surrogates) become U+FFFD."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return name.encode(errors="surrogateescape").decode(errors="replace")
    return name


def path_parts(relative: str, *, root_allowed: bool = False) -> tuple[str, ...]:
    """The components of a path a client sent, relative to the work tree (empty ones and `.`
    dropped). Refused: absolute paths, `..`, `.git` in any case, backslashes, control
    characters, components over 255 characters, and the root itself unless `root_allowed`."""
    if not relative and not root_allowed:
        raise UnsafePath("Path is required")
    if len(relative) > PATH_MAX_CHARS:
        raise UnsafePath(f"Path is longer than {PATH_MAX_CHARS} characters")
    if relative.startswith("/"):
        raise UnsafePath("Path must be relative to the repository")
    if "\\" in relative:
        raise UnsafePath("Path may not contain backslashes")
    if CONTROL_CHARACTERS.search(relative):
        raise UnsafePath("Path may not contain control characters")
    try:
        relative.encode()
    except UnicodeEncodeError:
        raise UnsafePath("Path must be valid UTF-8") from None
    parts = tuple(part for part in relative.split("/") if part not in ("", "."))
    for part in parts:
        if part == "..":
            raise UnsafePath("Path may not contain ..")
        if is_git_name(part):
            raise UnsafePath(GIT_FOLDER)
        if len(part) > NAME_MAX:
            raise UnsafePath(f"A path component is longer than {NAME_MAX} characters")
    if not parts and not root_allowed:
        raise UnsafePath("Path must name a file or folder, not the repository itself")
    return parts


@contextmanager
def os_errors(relative: str) -> Iterator[None]:
    """What the disk answers about a client's path, as the API answers it."""
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(f"No file {relative}") from None
    except NotADirectoryError:
        raise ConflictError(f"A part of {relative} is a file, not a folder") from None
    except IsADirectoryError:
        raise ConflictError(f"{relative} is a folder") from None
    except FileExistsError:
        raise ConflictError(f"{relative} already exists") from None
    except PermissionError:
        raise PermissionDeniedError(f"The server may not access {relative}") from None
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a link that was not there before
            raise ConflictError(f"{relative} changed while it was used") from None
        if error.errno == errno.ENAMETOOLONG:
            # 255 characters outside ASCII can exceed the 255 bytes a file name may have.
            raise ConflictError(
                f"{relative} has a name longer than the file system allows (255 bytes)"
            ) from None
        raise ConflictError(f"Cannot use {relative}: {error.strerror}") from None


class WorkTree:
    """An open work tree; paths below it are looked up through folder descriptors."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def __enter__(self) -> WorkTree:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        os.close(self.fd)

    def resolve(
        self, relative: str, *, follow: bool = True, root_allowed: bool = False
    ) -> tuple[str, ...]:
        """The real components of a client's path (see `resolve_parts`)."""
        return self.resolve_parts(path_parts(relative, root_allowed=root_allowed), follow=follow)

    def resolve_parts(self, parts: Sequence[str], *, follow: bool = True) -> tuple[str, ...]:
        """The components of `parts` with every symlink followed (the last one only with
        `follow`) while it stays in the work tree; what does not exist yet is taken as written.
        UnsafePath when a link leads out or any component is a git folder."""
        pending = list(parts)
        resolved: list[str] = []
        folders = [self.fd]  # folders[i] is open on resolved[:i], as long as that exists
        links = 0
        try:
            while pending:
                part = pending.pop(0)
                if part == "..":  # only a link's target brings these
                    if not resolved:
                        raise UnsafePath(OUTSIDE)
                    resolved.pop()
                    if len(folders) > len(resolved) + 1:
                        os.close(folders.pop())
                    continue
                if is_git_name(part):
                    raise UnsafePath(GIT_FOLDER)
                if len(folders) <= len(resolved) or (not pending and not follow):
                    resolved.append(part)  # below something missing, or not to be followed
                    continue
                try:
                    info = os.stat(part, dir_fd=folders[-1], follow_symlinks=False)
                except OSError as error:
                    if error.errno not in (errno.ENOENT, errno.ENAMETOOLONG):
                        raise
                    resolved.append(part)  # missing (a name too long cannot exist either)
                    continue
                if stat.S_ISLNK(info.st_mode):
                    links += 1
                    if links > SYMLINKS_MAX:
                        raise UnsafePath("Path goes through too many symbolic links")
                    target = os.readlink(part, dir_fd=folders[-1])
                    if target.startswith("/"):
                        while len(folders) > 1:
                            os.close(folders.pop())
                        resolved.clear()
                        pending = self.below_root(target) + pending
                    else:
                        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                    continue
                resolved.append(part)
                if stat.S_ISDIR(info.st_mode) and pending:
                    folders.append(os.open(part, FOLDER_FLAGS, dir_fd=folders[-1]))
        finally:
            for fd in folders[1:]:
                os.close(fd)
        return tuple(resolved)

    def below_root(self, target: str) -> list[str]:
        """The components of an absolute link target below the work tree's root."""
        parts = [p for p in target.split("/") if p not in ("", ".")]
        root = list(self.root.parts[1:])
        if parts[: len(root)] != root:
            raise UnsafePath(OUTSIDE)
        return parts[len(root) :]

    @contextmanager
    def folder(self, parts: Sequence[str], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder `parts` (made first with `create`), reached without
        following a single link."""
        fd = os.dup(self.fd)
        try:
            for part in parts:
                if create:
                    with suppress(FileExistsError):
                        os.mkdir(part, dir_fd=fd)
                inner = os.open(part, FOLDER_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
            yield fd
        finally:
            os.close(fd)

    def link_escapes(self, path: str) -> bool:
        """Whether `path` (as a repository names it) is a symlink that leads into a git folder
        or out of the work tree."""
        parts = path.split("/")
        try:
            with self.folder(parts[:-1]) as folder:
                if not stat.S_ISLNK(
                    os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode
                ):
                    return False
            self.resolve_parts(parts)
        except UnsafePath:
            return True
        except OSError:
            return False  # gone, or not below folders: nothing was checked out there
        return False

    def link_to_file(self, path: str) -> None:
        """Replaces the symlink `path` by a plain file holding its target, as git checks links
        out where there are none (core.symlinks=false)."""
        parts = path.split("/")
        with self.folder(parts[:-1]) as folder:
            target = os.readlink(parts[-1], dir_fd=folder)
            os.unlink(parts[-1], dir_fd=folder)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(parts[-1], flags, 0o666, dir_fd=folder)
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.fsencode(target))
