"""The git provider interface and its implementation on pygit2 for repositories on this disk.

Callers use `git_provider()` and the operations of `GitProvider`; another implementation (a git
hosting API) can be configured with GIT_PROVIDER without touching them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pygit2
from django.conf import settings
from django.utils.module_loading import import_string
from pygit2.enums import (
    BranchType,
    ConfigLevel,
    DeltaStatus,
    DiffFind,
    DiffOption,
    FetchPrune,
    FileMode,
    FileStatus,
    RepositoryOpenFlag,
    SortMode,
)

from apps.gitops import diffing
from apps.gitops.paths import WorkTree, shown
from discobot.errors import ApplicationError, ConflictError

SESSION_BRANCH_PREFIX = "discobot/"
RACY_INDEX_MIN_FILES = 1000
# Untracked files are changes too, each one listed with its content (ignored ones are not).
WORK_TREE_UNTRACKED = (
    DiffOption.INCLUDE_TYPECHANGE
    | DiffOption.INCLUDE_UNTRACKED
    | DiffOption.RECURSE_UNTRACKED_DIRS
    | DiffOption.SHOW_UNTRACKED_CONTENT
)
ADDED_STATUSES = {DeltaStatus.ADDED, DeltaStatus.UNTRACKED}
DELTA_STATUS = {
    DeltaStatus.ADDED: "added",
    DeltaStatus.UNTRACKED: "added",
    DeltaStatus.DELETED: "deleted",
    DeltaStatus.MODIFIED: "modified",
    DeltaStatus.TYPECHANGE: "modified",
    DeltaStatus.RENAMED: "renamed",
    DeltaStatus.COPIED: "added",
}


# A revision the API takes: a branch, tag or commit name, then any `~N`/`^N`. Ranges (`a..b`),
# reflog entries (`@{-1}`), peeling (`^{}`) and paths (`HEAD:file`) are refused; whatever else
# does not name a commit is unknown (404).
REVISION_PATTERN = r"^(?!.*\.\.)(?!.*@\{)[^\x00-\x20\x7f~^:?*\[\\]+(?:[~^][0-9]*)*$"
REVISION_MAX_LENGTH = 255
# Repository configuration the server refuses: it would make git work in another folder
# (core.worktree), read other files (include, includeIf) or run programs (filter drivers,
# fsmonitor, hooks, ssh, credential helpers...). libgit2 runs none of those programs, but git run
# later in the same tree by a person or an agent would.
UNSAFE_CONFIG = re.compile(
    r"""^(?:
        include\..* | includeif\..* | filter\..*
        | core\.(?:worktree|fsmonitor|sshcommand|gitproxy|hookspath|askpass|editor|pager
                  |attributesfile|alternaterefscommand)
        | diff\.external | diff\..*\.(?:textconv|command) | merge\..*\.driver
        | credential\.(?:.*\.)?helper | gpg\.(?:.*\.)?program | sequence\.editor
        | remote\..*\.(?:uploadpack|receivepack) | uploadpack\.packobjectshook
        | extensions\.worktreeconfig
    )$""",
    re.VERBOSE,
)
# Checked in the file before libgit2 reads it: an included file could be a FIFO that never ends.
INCLUDE_SECTION = re.compile(rb"^[ \t]*\[[ \t]*(include(?:if)?)\b", re.IGNORECASE | re.MULTILINE)
CONFIG_MAX_BYTES = 1024 * 1024
SIGNATURE_FORBIDDEN = re.compile(r"[<>\x00-\x1f\x7f]")
KEPT_REPOSITORIES = 4  # per thread (`kept`)
kept_by_thread = threading.local()


class GitError(ApplicationError):
    """A git operation the caller asked for cannot be done (a malformed revision...)."""


class GitNotFound(GitError):
    """The revision or the file asked for does not exist."""

    status_code = 404


class RepositoryConflict(GitError):
    """The repository's state does not allow the operation (not a repository, nothing to
    commit, no origin...)."""

    status_code = 409


class NothingToCommit(RepositoryConflict):
    pass


@dataclass
class FileChange:
    path: str
    status: str
    old_path: str | None = None
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    patch: str | None = None


@dataclass
class Diff:
    files: list[FileChange] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class Author:
    name: str
    email: str

    def signature(self) -> pygit2.Signature:
        # libgit2 refuses angle brackets and empty names or emails; display names hold anything.
        name = SIGNATURE_FORBIDDEN.sub("", self.name).strip() or "Unknown"
        email = SIGNATURE_FORBIDDEN.sub("", self.email).strip() or "unknown"
        return pygit2.Signature(name, email)


@dataclass(frozen=True)
class CloneProgress:
    """How far a clone's download is, as libgit2 counts it."""

    received_objects: int
    total_objects: int
    indexed_deltas: int
    total_deltas: int
    received_bytes: int


CloneProgressReport = Callable[[CloneProgress], None]


class GitProvider(Protocol):
    def repository_check(self, repo_path: Path) -> None: ...
    def clone(
        self,
        url: str,
        target: Path,
        *,
        token: str = "",
        owner: str = "",
        progress: CloneProgressReport | None = None,
    ) -> str: ...
    def init(self, path: Path, *, author: Author) -> str: ...
    def head(self, repo_path: Path) -> str: ...
    def fetch(self, repo_path: Path, *, token: str = "") -> None: ...
    def checkout(self, repo_path: Path, ref: str) -> str: ...
    def status(self, repo_path: Path) -> dict[str, str]: ...
    def branches(self, repo_path: Path) -> list[dict[str, object]]: ...
    def log(self, repo_path: Path, *, ref: str, limit: int) -> list[dict[str, object]]: ...
    def diff(
        self, repo_path: Path, *, base: str, target: str | None = None, patches: bool = True
    ) -> Diff: ...
    def tree_files(self, repo_path: Path, *, ref: str) -> list[str]: ...
    def read_blob(self, repo_path: Path, *, path: str, ref: str) -> bytes: ...
    def stage(self, repo_path: Path, paths: list[str]) -> None: ...
    def commit(
        self, repo_path: Path, *, message: str, author: Author, all_changes: bool
    ) -> str: ...
    def working_copy(self, source: Path, target: Path, *, branch: str, commit: str) -> None: ...
    def apply_branch(
        self, source: Path, *, branch: str, base: str, target: Path, author: Author, message: str
    ) -> str: ...


def git_provider() -> GitProvider:
    provider: GitProvider = import_string(settings.GIT_PROVIDER)()
    return provider


@contextmanager
def repository_lock(path: Path) -> Iterator[None]:
    """One git operation at a time per repository, across threads and processes."""
    locks = Path(settings.DATA_DIR) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    with open(locks / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def unsafe_setting(name: str) -> RepositoryConflict:
    return RepositoryConflict(
        f"The repository's configuration sets {name}, which this server does not allow"
    )


def local_config_check(git_dir: Path) -> None:
    """Refuses a repository whose own configuration includes other files, before libgit2 reads
    it; the rest is checked on the entries libgit2 parsed (see `open_repository`)."""
    try:
        fd = os.open(git_dir / "config", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError:
        raise RepositoryConflict("The repository's configuration is not a plain file") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RepositoryConflict("The repository's configuration is not a plain file")
        text = handle.read(CONFIG_MAX_BYTES + 1)
    if len(text) > CONFIG_MAX_BYTES:
        raise RepositoryConflict("The repository's configuration is too large")
    if include := INCLUDE_SECTION.search(text):
        raise unsafe_setting(include[1].decode())


def open_repository(path: Path, *, keep: bool = False) -> pygit2.Repository:
    """The repository whose work tree is exactly `path` and whose git folder is `path/.git`.

    Anything else is refused (409): a folder that is no repository or lies inside one, a git
    folder, a bare repository, and a repository whose own configuration would take git to
    other folders or programs. Nothing is searched for above `path`.

    With `keep`, this thread keeps the repository open for its next calls (see `kept`); the
    checks run again on every call all the same.
    """
    git_dir = Path(path) / ".git"
    try:
        git_dir_stat = os.lstat(git_dir)
    except OSError:
        git_dir_stat = None
    if git_dir_stat is None or not stat.S_ISDIR(git_dir_stat.st_mode):
        raise RepositoryConflict(f"Not a git repository: {path} has no .git folder")
    local_config_check(git_dir)
    real = os.path.realpath(path)
    # A git folder made again in the same place is another repository (its inode number may be
    # the old one's again, not its change time).
    key = (real, git_dir_stat.st_dev, git_dir_stat.st_ino, git_dir_stat.st_ctime_ns)
    repo = kept().pop(key, None) if keep else None
    if repo is None:
        try:
            repo = pygit2.Repository(str(path), RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError:
            raise RepositoryConflict(f"Not a git repository: {path}") from None
    for entry in repo.config:  # libgit2 reads the files again when they changed
        if entry.level >= ConfigLevel.LOCAL and UNSAFE_CONFIG.match(entry.name):
            raise unsafe_setting(entry.name)
    if repo.is_bare or repo.workdir is None or os.path.realpath(repo.workdir) != real:
        raise RepositoryConflict(f"{path} is not the root of the repository's work tree")
    if os.path.realpath(repo.path) != os.path.realpath(git_dir):
        raise RepositoryConflict(f"{path} keeps its git folder elsewhere")
    if keep:
        repositories = kept()
        repositories[key] = repo
        while len(repositories) > KEPT_REPOSITORIES:
            repositories.popitem(last=False)
    return repo


def kept() -> OrderedDict[tuple[str, int, int, int], pygit2.Repository]:
    """The repositories this thread keeps open, the latest used last.

    A repository kept open keeps its index, parsed trees and attribute files in memory and
    reads again only what changed on disk: a session's diff, asked for again and again while
    an agent works, skips most of its cost (about half on a 10,000-file tree). Per thread,
    because libgit2 objects must not be used by two threads at once.
    """
    repositories: OrderedDict[tuple[str, int, int, int], pygit2.Repository] | None
    repositories = getattr(kept_by_thread, "repositories", None)
    if repositories is None:
        repositories = kept_by_thread.repositories = OrderedDict()
    return repositories


def revision_check(ref: str) -> None:
    if len(ref) > REVISION_MAX_LENGTH:
        raise GitError(f"A revision is at most {REVISION_MAX_LENGTH} characters")
    if not re.fullmatch(REVISION_PATTERN, ref):
        raise GitError(
            f"Not a revision: {ref!r} (a branch, tag or commit, optionally followed by ~N or ^N)"
        )


def resolve_commit(repo: pygit2.Repository, ref: str) -> pygit2.Commit:
    revision_check(ref)
    try:
        return repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        raise GitNotFound(f"Unknown revision: {ref}") from None


def branch_lookup(repo: pygit2.Repository, name: str, kind: BranchType) -> pygit2.Branch | None:
    try:
        return repo.lookup_branch(name, kind)
    except (ValueError, pygit2.GitError):  # not a valid branch name
        return None


def links_of_index(repo: pygit2.Repository) -> list[str]:
    return [entry.path for entry in repo.index if entry.mode == FileMode.LINK]


def links_written(before: pygit2.Tree | None, after: pygit2.Tree) -> list[str]:
    """The symlinks that checking out `after` over `before` writes."""
    changes = after.diff_to_tree(swap=True) if before is None else before.diff_to_tree(after)
    return [
        delta.new_file.path
        for delta in changes.deltas
        if delta.new_file.mode == FileMode.LINK and delta.status != DeltaStatus.DELETED
    ]


def links_neutralise(repo: pygit2.Repository, paths: Iterable[str]) -> None:
    """Checked-out symlinks that lead into a git folder or out of the work tree become plain
    files holding their target, the way git checks out every link with core.symlinks=false;
    that setting is then turned off, so that status and diff take those files for the links
    they stand for. Links that stay inside are left alone."""
    with WorkTree(Path(repo.workdir)) as tree:
        escaping = [path for path in paths if tree.link_escapes(path)]
        for path in escaping:
            tree.link_to_file(path)
    if escaping:
        repo.config["core.symlinks"] = False


class RemoteCallbacks(pygit2.RemoteCallbacks):
    """The token a remote is reached with, and where the download's progress goes."""

    def __init__(self, token: str, progress: CloneProgressReport | None) -> None:
        super().__init__(credentials=pygit2.UserPass("x-access-token", token) if token else None)
        self.progress = progress

    def transfer_progress(self, stats: pygit2.remotes.TransferProgress) -> None:
        if self.progress is not None:
            self.progress(
                CloneProgress(
                    received_objects=stats.received_objects,
                    total_objects=stats.total_objects,
                    indexed_deltas=stats.indexed_deltas,
                    total_deltas=stats.total_deltas,
                    received_bytes=stats.received_bytes,
                )
            )


def remote_callbacks(
    token: str, progress: CloneProgressReport | None = None
) -> RemoteCallbacks | None:
    if not token and progress is None:
        return None
    return RemoteCallbacks(token, progress)


def mirror_path(url: str, owner: str = "") -> Path:
    """Mirrors are kept per owner (a project): one project's token never serves another's clone."""
    digest = hashlib.sha256(f"{owner}\0{url}".encode()).hexdigest()[:40]
    return Path(settings.WORKSPACE_DIR) / ".mirrors" / f"{digest}.git"


def mirror_refresh(
    url: str, *, token: str, owner: str = "", progress: CloneProgressReport | None = None
) -> Path:
    """A bare mirror of `url`, fetched unless it was fetched within GIT_MIRROR_FRESH_SECONDS;
    `progress` hears how its download goes."""
    mirror = mirror_path(url, owner)
    stamp = mirror / "discobot-fetched"
    with repository_lock(mirror):
        if not mirror.exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            partial = mirror.with_suffix(".partial")
            shutil.rmtree(partial, ignore_errors=True)

            def mirror_remote(repo: pygit2.Repository, name: str, remote_url: str) -> pygit2.Remote:
                return repo.remotes.create(name, remote_url, "+refs/*:refs/*")

            repo = pygit2.clone_repository(
                url,
                str(partial),
                bare=True,
                remote=mirror_remote,
                callbacks=remote_callbacks(token, progress),
            )
            # Point the mirror's HEAD where the remote's points (recorded by the clone as the
            # symbolic origin/HEAD), so that clones of the mirror check that branch out.
            remote_head = repo.references.get("refs/remotes/origin/HEAD")
            if remote_head is not None and isinstance(remote_head.target, str):
                repo.set_head(remote_head.target)
            partial.rename(mirror)
        elif time.time() - stamp.stat().st_mtime > settings.GIT_MIRROR_FRESH_SECONDS:
            pygit2.Repository(str(mirror)).remotes["origin"].fetch(
                callbacks=remote_callbacks(token, progress), prune=FetchPrune.PRUNE
            )
        stamp.touch()
    return mirror


def stage_everything(repo: pygit2.Repository, index: pygit2.Index) -> None:
    """`git add --all`: new and changed files added, deleted ones removed.

    Only the paths `status` reports are touched; its stat cache makes that fast on big trees.
    """
    workdir = Path(repo.workdir)
    for path, flags in repo.status(ignored=False).items():
        changed = FileStatus.WT_NEW | FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE
        # A file may vanish between the two looks (the sandbox writes the same tree); a link
        # that leads nowhere is still a file to commit, as the session's diff shows it.
        if flags & FileStatus.WT_DELETED or not os.path.lexists(workdir / path):
            if path in index:
                index.remove(path)
        elif flags & changed:
            index.add(path)


def links_checked_out(repo: pygit2.Repository) -> bool:
    """Whether the work tree holds symlinks as such (`core.symlinks`, which `links_neutralise`
    turns off)."""
    return "core.symlinks" not in repo.config or repo.config.get_bool("core.symlinks")


def work_tree_diff(repo: pygit2.Repository, base: pygit2.Tree) -> pygit2.Diff:
    """`base` against the work tree as `git add --all` would stage it, without staging anything:
    `base` against the index, merged (as `git diff <commit>` does) with the index against the
    work tree, untracked files included. The index's stat cache spares hashing unchanged files,
    and what changed is read from the work tree, never written into the repository."""
    index = repo.index  # in memory, never written
    index.read(force=False)  # a kept repository's index may be older than its file
    staged_in_memory = False
    try:
        if not links_checked_out(repo):
            staged_in_memory = True
            # libgit2 would read a link in the work tree as the file it leads to (anywhere):
            # the changes are staged in memory instead, which takes links for links.
            stage_everything(repo, index)
            return base.diff_to_index(index)
        # The work tree is read on other threads meanwhile (see `diffing`), each with its own
        # repository.
        workdir = Path(repo.workdir)
        reading = diffing.WorkTreeRead(
            repo,
            index,
            diffing.tree_split(base),
            WORK_TREE_UNTRACKED,
            reopen=lambda: open_repository(workdir, keep=True),
        )
        stamp = diffing.index_stamp(repo)
        if diffing.index_holds(stamp, base):
            parts = reading.parts(())
            merged: pygit2.Diff = parts[0]
            for part in parts[1:]:
                merged.merge(part)
            return merged
        # The same comparison as `base.diff_to_index`, through pygit2's cffi handle, which lets
        # go of the interpreter's lock: the threads reading the work tree need it between calls.
        staged: pygit2.Diff = index.diff_to_tree(base, WORK_TREE_UNTRACKED)
        if len(staged) == 0:
            diffing.index_held(stamp, base)
        # A file the index dropped but the work tree still has (`git rm --cached`) would
        # otherwise read as deleted: it goes back into the index first, as `stage_everything`
        # would add it.
        dropped = [
            delta.old_file.path
            for delta in staged.deltas
            if delta.status == DeltaStatus.DELETED
            and os.path.lexists(os.path.join(repo.workdir, delta.old_file.path))
            and not repo.path_is_ignored(delta.old_file.path)
        ]
        if dropped:
            staged_in_memory = True
            for path in dropped:
                index.add(path)
            staged = base.diff_to_index(index, WORK_TREE_UNTRACKED)
            # The other threads read the index on disk, which lacks these entries.
            staged.merge(index.diff_to_workdir(WORK_TREE_UNTRACKED))
            return staged
        for part in reading.parts(delta.new_file.path for delta in staged.deltas):
            staged.merge(part)
        return staged
    finally:
        if staged_in_memory:  # the next diff of a kept repository starts from the file
            index.read(force=True)


def renames_possible(diff: pygit2.Diff) -> bool:
    """Whether a file went and another came (`find_similar` costs time even when not)."""
    statuses = {delta.status for delta in diff.deltas}
    return DeltaStatus.DELETED in statuses and bool(statuses & ADDED_STATUSES)


def change_of_delta(delta: pygit2.DiffDelta, binary: bool | None = None) -> FileChange:
    """`binary` when known: pygit2 reads a delta's content again to tell."""
    status = DELTA_STATUS.get(delta.status, "modified")
    return FileChange(
        path=shown(delta.new_file.path),
        status=status,
        old_path=shown(delta.old_file.path) if status == "renamed" else None,
        binary=bool(delta.is_binary) if binary is None else binary,
    )


def change_of(patch: pygit2.Patch) -> FileChange:
    change = change_of_delta(patch.delta)
    if not patch.delta.is_binary:
        _, change.additions, change.deletions = patch.line_stats
        change.patch = patch.text
    return change


class LocalGitProvider:
    """Repositories on this server's disk, through libgit2."""

    def repository_check(self, repo_path: Path) -> None:
        """Refuses (409) a folder the server may not work on as a repository."""
        open_repository(repo_path)

    def clone(
        self,
        url: str,
        target: Path,
        *,
        token: str = "",
        owner: str = "",
        progress: CloneProgressReport | None = None,
    ) -> str:
        mirror = mirror_refresh(url, token=token, owner=owner, progress=progress)
        repo = pygit2.clone_repository(str(mirror), str(target))
        repo.remotes.set_url("origin", url)
        links_neutralise(repo, links_of_index(repo))
        return "" if repo.head_is_unborn else str(repo.head.target)

    def init(self, path: Path, *, author: Author) -> str:
        with repository_lock(path):
            repo = pygit2.init_repository(str(path), initial_head="main")
            repo.index.add_all()
            repo.index.write()
            tree = repo.index.write_tree()
            sig = author.signature()
            return str(repo.create_commit("HEAD", sig, sig, "Initial commit", tree, []))

    def head(self, repo_path: Path) -> str:
        repo = open_repository(repo_path)
        return "" if repo.head_is_unborn else str(repo.head.target)

    def fetch(self, repo_path: Path, *, token: str = "") -> None:
        with repository_lock(repo_path):
            repo = open_repository(repo_path)
            if "origin" not in [remote.name for remote in repo.remotes]:
                raise RepositoryConflict("This repository has no origin to fetch from")
            try:
                repo.remotes["origin"].fetch(
                    callbacks=remote_callbacks(token), prune=FetchPrune.PRUNE
                )
            except pygit2.GitError as error:
                raise RepositoryConflict(f"Fetch failed: {error}") from None

    def checkout(self, repo_path: Path, ref: str) -> str:
        revision_check(ref)
        with repository_lock(repo_path):
            repo = open_repository(repo_path)
            branch = branch_lookup(repo, ref, BranchType.LOCAL)
            remote_branch = branch_lookup(repo, f"origin/{ref}", BranchType.REMOTE)
            commit = resolve_commit(repo, ref if branch or not remote_branch else f"origin/{ref}")
            before = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).tree
            try:
                repo.checkout_tree(commit.tree)  # type: ignore[no-untyped-call]  # pygit2
            except pygit2.GitError as error:
                raise ConflictError(f"Checkout would overwrite local changes: {error}") from None
            links_neutralise(repo, links_written(before, commit.tree))
            if branch is None and remote_branch is not None:
                branch = repo.branches.local.create(ref, commit)
            if branch is not None:
                repo.set_head(branch.name)
            else:
                repo.set_head(commit.id)
            return str(commit.id)

    def status(self, repo_path: Path) -> dict[str, str]:
        repo = open_repository(repo_path, keep=True)
        names = {
            FileStatus.WT_NEW: "untracked",
            FileStatus.WT_MODIFIED: "modified",
            FileStatus.WT_DELETED: "deleted",
            FileStatus.WT_RENAMED: "renamed",
            FileStatus.INDEX_NEW: "staged-added",
            FileStatus.INDEX_MODIFIED: "staged-modified",
            FileStatus.INDEX_DELETED: "staged-deleted",
            FileStatus.INDEX_RENAMED: "staged-renamed",
            FileStatus.CONFLICTED: "conflicted",
        }
        result = {}
        for path, flags in repo.status().items():
            if flags == FileStatus.IGNORED:
                continue
            labels = [label for flag, label in names.items() if flags & flag]
            result[shown(path)] = ",".join(labels) or "modified"
        return result

    def branches(self, repo_path: Path) -> list[dict[str, object]]:
        repo = open_repository(repo_path)
        current = None if repo.head_is_unborn or repo.head_is_detached else repo.head.shorthand
        result: list[dict[str, object]] = []
        for name in sorted(repo.branches.local):
            branch = repo.branches.local[name]
            result.append(
                {
                    "name": shown(name),
                    "commit": str(branch.target),
                    "current": name == current,
                    "remote": False,
                }
            )
        for name in sorted(repo.branches.remote):
            branch = repo.branches.remote[name]
            if name.endswith("/HEAD"):
                continue
            result.append(
                {
                    "name": shown(name),
                    "commit": str(branch.target),
                    "current": False,
                    "remote": True,
                }
            )
        return result

    def log(self, repo_path: Path, *, ref: str, limit: int) -> list[dict[str, object]]:
        revision_check(ref)
        repo = open_repository(repo_path)
        if repo.head_is_unborn:
            return []
        start = resolve_commit(repo, ref)
        entries: list[dict[str, object]] = []
        for commit in repo.walk(start.id, SortMode.TOPOLOGICAL | SortMode.TIME):
            if len(entries) >= limit:
                break
            entries.append(
                {
                    "sha": str(commit.id),
                    "message": commit.message,
                    "authorName": commit.author.name,
                    "authorEmail": commit.author.email,
                    "time": commit.commit_time,
                    "parents": [str(parent) for parent in commit.parent_ids],
                }
            )
        return entries

    def diff(
        self, repo_path: Path, *, base: str, target: str | None = None, patches: bool = True
    ) -> Diff:
        """Changes from `base` to `target`, or to the work tree (untracked files included)."""
        repo = open_repository(repo_path, keep=True)
        base_tree = resolve_commit(repo, base).tree
        if target is None:
            diff = work_tree_diff(repo, base_tree)
            if renames_possible(diff):
                diff.find_similar(DiffFind.FIND_RENAMES | DiffFind.FIND_FOR_UNTRACKED)
        else:
            diff = base_tree.diff_to_tree(resolve_commit(repo, target).tree)
            if renames_possible(diff):
                diff.find_similar(DiffFind.FIND_RENAMES)
        if patches:
            files = [change_of(p) for p in diff if p is not None and not diffing.unchanged(p.delta)]
        else:
            files = [
                replace(
                    change_of_delta(delta, binary=count.binary),
                    additions=count.additions,
                    deletions=count.deletions,
                )
                for delta, count in diffing.line_counts(repo, diff)
                if count.changed
            ]
        stats = {
            "filesChanged": len(files),
            "additions": sum(change.additions for change in files),
            "deletions": sum(change.deletions for change in files),
        }
        return Diff(files=files, stats=stats)

    def tree_files(self, repo_path: Path, *, ref: str) -> list[str]:
        repo = open_repository(repo_path)
        tree = resolve_commit(repo, ref).tree
        paths: list[str] = []

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for entry in tree:
                name = f"{prefix}{entry.name}"
                if isinstance(entry, pygit2.Tree):
                    walk(entry, f"{name}/")
                else:
                    paths.append(shown(name))

        walk(tree, "")
        return paths

    def read_blob(self, repo_path: Path, *, path: str, ref: str) -> bytes:
        repo = open_repository(repo_path)
        tree = resolve_commit(repo, ref).tree
        try:
            obj = tree[path]
        except (KeyError, ValueError):
            raise GitNotFound(f"No file {shown(path)} at {ref}") from None
        if not isinstance(obj, pygit2.Blob):
            raise GitNotFound(f"{shown(path)} is not a file at {ref}")
        return obj.data

    def stage(self, repo_path: Path, paths: list[str]) -> None:
        """Stages files of the work tree, or their deletion; all of them or none."""
        with repository_lock(repo_path):
            repo = open_repository(repo_path)
            index = repo.index
            for path in paths:
                name = shown(path)
                try:
                    info: os.stat_result | None = os.lstat(Path(repo.workdir) / path)
                except OSError as error:
                    if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                        raise RepositoryConflict(f"Cannot stage {name}: {error.strerror}") from None
                    info = None  # not in the work tree
                if info is not None and stat.S_ISDIR(info.st_mode):
                    raise RepositoryConflict(f"{name} is a folder: stage the files in it")
                if info is None and path not in index:
                    raise GitNotFound(f"No file {name} in the work tree or the index")
                try:
                    if info is None:
                        index.remove(path)
                    else:
                        index.add(path)
                except (OSError, pygit2.GitError) as error:
                    raise RepositoryConflict(f"Cannot stage {name}: {error}") from None
            index.write()

    def commit(self, repo_path: Path, *, message: str, author: Author, all_changes: bool) -> str:
        """Commits the index (or, with `all_changes`, every change in the work tree)."""
        with repository_lock(repo_path):
            repo = open_repository(repo_path)
            if all_changes:
                stage_everything(repo, repo.index)
                repo.index.write()
            tree = repo.index.write_tree()
            parents = [] if repo.head_is_unborn else [repo.head.target]
            if parents and repo[parents[0]].peel(pygit2.Commit).tree_id == tree:
                raise NothingToCommit("Nothing to commit")
            sig = author.signature()
            return str(repo.create_commit("HEAD", sig, sig, message, tree, parents))

    def working_copy(self, source: Path, target: Path, *, branch: str, commit: str) -> None:
        """A clone of `source` at `commit` on a new branch `branch` (a session's working copy)."""
        with repository_lock(source):
            open_repository(source)  # its configuration is checked before libgit2 reads it
            repo = pygit2.clone_repository(str(source), str(target))
        start = resolve_commit(repo, commit)
        local = repo.branches.local.create(branch, start, force=True)
        repo.checkout(local)
        links_neutralise(repo, links_of_index(repo))
        # A docker sandbox grants its user the files with an ACL (`setfacl -R`), which changes
        # every file's inode time: were it trusted, every later diff would re-read the whole
        # tree. Content changes still show in the modification time, size and inode.
        repo.config["core.trustctime"] = False
        # Files checked out in the same second the index is written are "racily clean": every
        # later diff would re-hash all of them. Writing the index once the second has passed
        # records them as clean for good; small trees re-hash faster than the wait.
        if len(repo.index) > RACY_INDEX_MIN_FILES:
            time.sleep(1.01 - time.time() % 1)
            repo.index.read(force=True)
            repo.index.write()

    def apply_branch(
        self, source: Path, *, branch: str, base: str, target: Path, author: Author, message: str
    ) -> str:
        """Replays the commits of `branch` in `source` since `base` onto `target`'s HEAD.

        Uncommitted changes in `source` are committed first (with `message`). Nothing in
        `target` moves unless every commit applies cleanly: a conflict raises ConflictError
        and leaves both repositories as they were.
        """
        with contextlib.suppress(NothingToCommit):
            self.commit(source, message=message, author=author, all_changes=True)
        with repository_lock(target):
            repo = open_repository(target)
            if repo.head_is_unborn:
                raise RepositoryConflict("The workspace repository has no commit to apply onto")
            incoming = f"refs/discobot/incoming/{branch}"
            remote = repo.remotes.create_anonymous(str(source))
            remote.fetch([f"+refs/heads/{branch}:{incoming}"])
            tip = repo.references[incoming].target
            commits = list(repo.walk(tip, SortMode.TOPOLOGICAL | SortMode.REVERSE))
            base_id = resolve_commit(repo, base).id
            ancestors = {c.id for c in repo.walk(base_id)}
            to_apply = [c for c in commits if c.id not in ancestors]
            if not to_apply:
                repo.references.delete(incoming)
                raise RepositoryConflict("The session has no changes to commit")
            current = repo.head.peel(pygit2.Commit)
            before = current.tree
            committer = author.signature()
            for commit in to_apply:
                merged = repo.merge_trees(commit.parents[0].tree, current.tree, commit.tree)
                if merged.conflicts is not None:
                    paths = sorted(
                        {(ours or theirs or anc).path for anc, ours, theirs in merged.conflicts}
                    )
                    raise ConflictError("The workspace changed the same lines: " + ", ".join(paths))
                tree = merged.write_tree(repo)
                new_id = repo.create_commit(
                    None, commit.author, committer, commit.message, tree, [current.id]
                )
                current = repo[new_id].peel(pygit2.Commit)
            if to_apply:
                try:
                    repo.checkout_tree(current.tree)  # type: ignore[no-untyped-call]  # pygit2
                except pygit2.GitError as error:
                    raise ConflictError(
                        f"The workspace has uncommitted changes in the way: {error}"
                    ) from None
                links_neutralise(repo, links_written(before, current.tree))
                if repo.head_is_detached:
                    repo.set_head(current.id)
                else:
                    repo.references[repo.head.name].set_target(current.id)
            repo.references.delete(incoming)
            return str(current.id)
