"""A big work tree's diff, at the speed of `git diff`: the work tree read on several threads,
and line counts taken without attribute lookups where no attributes can apply.

libgit2 reads a work tree one `lstat` at a time, where `git diff` spreads them over threads;
and for every changed file it counts lines in, it looks the file's attributes up (a `realpath`
and several `stat`s). On a 10,000-file tree with 200 changes these were most of a session
diff's time (docs/decisions.md, "Git").
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2 import C, ffi
from pygit2.enums import DeltaStatus, DiffFlag, DiffOption, FileMode
from pygit2.errors import check_error
from pygit2.utils import StrArray

# Below this many files one thread reads the tree faster than several can be started.
SPLIT_MIN_FILES = 4000
SPLIT_THREADS = min(4, os.cpu_count() or 1)
# Groups per thread: enough for a thread that is free to take over the rest of another's share.
SPLIT_GROUPS = 4 * SPLIT_THREADS
# The most paths the groups are described by (libgit2 looks each path up in a sorted list).
SPLIT_PATHS_MAX = 64
SPLITS_KEPT = 64
# Larger files are counted by libgit2, which gives up on huge ones without reading them.
QUICK_COUNT_MAX_BYTES = 4 * 1024 * 1024
COUNTS_KEPT = 50_000
# A file changed this recently may change again within its time stamp's resolution: a tick
# of the kernel's coarse clock where stamps have nanoseconds, two seconds where they have none.
RACY_SECONDS = 0.1
RACY_SECONDS_WHOLE_STAMPS = 2
ATTRIBUTE_SETTINGS = ("core.autocrlf", "core.eol", "core.attributesfile")
# A side that is absent (an added file's old side) has mode 0.
COUNTED_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE, FileMode.LINK, 0)
COUNTED_STATUSES = (
    DeltaStatus.ADDED,
    DeltaStatus.UNTRACKED,
    DeltaStatus.DELETED,
    DeltaStatus.MODIFIED,
    DeltaStatus.RENAMED,
    DeltaStatus.COPIED,
    DeltaStatus.TYPECHANGE,
)


@dataclass(frozen=True)
class TreeSplit:
    """A tree's paths in groups of about the same number of files, read by several threads.
    `folders` are the folders whose entries were divided among groups ('' the top one): what
    appears in them later goes to a group when the tree is read."""

    groups: tuple[tuple[str, ...], ...]
    folders: frozenset[str]

    def covered(self) -> set[str]:
        return {path for group in self.groups for path in group}

    def unit_of(self, path: str) -> str:
        """The group entry a path falls under: its top folder, or deeper in divided folders."""
        names = path.split("/")
        unit = ""
        for depth, name in enumerate(names):
            unit = f"{unit}/{name}" if unit else name
            if unit not in self.folders or depth == len(names) - 1:
                break
        return unit


splits: OrderedDict[pygit2.Oid, TreeSplit | None] = OrderedDict()
splits_lock = threading.Lock()
readers = ThreadPoolExecutor(max_workers=max(1, SPLIT_THREADS - 1), thread_name_prefix="git-read")


def tree_split(tree: pygit2.Tree, groups: int = SPLIT_GROUPS) -> TreeSplit | None:
    """How the work tree of `tree` is divided into `groups` for the threads to read; None when
    it is too small to gain from it. Kept by tree id: a session's base tree never changes."""
    with splits_lock:
        if tree.id in splits:
            splits.move_to_end(tree.id)
            return splits[tree.id]
    split = tree_split_compute(tree, groups) if SPLIT_THREADS > 1 else None
    with splits_lock:
        splits[tree.id] = split
        while len(splits) > SPLITS_KEPT:
            splits.popitem(last=False)
    return split


def tree_split_compute(tree: pygit2.Tree, groups: int) -> TreeSplit | None:
    sizes: dict[pygit2.Oid, int] = {}

    def size(subtree: pygit2.Tree) -> int:
        if subtree.id not in sizes:
            sizes[subtree.id] = sum(
                size(entry) if isinstance(entry, pygit2.Tree) else 1 for entry in subtree
            )
        return sizes[subtree.id]

    def units_of(folder: str, subtree: pygit2.Tree) -> list[tuple[int, str, pygit2.Tree | None]]:
        return [
            (
                size(entry) if isinstance(entry, pygit2.Tree) else 1,
                f"{folder}/{entry.name}" if folder else str(entry.name),
                entry if isinstance(entry, pygit2.Tree) else None,
            )
            for entry in subtree
        ]

    total = size(tree)
    if total < SPLIT_MIN_FILES:
        return None
    units = units_of("", tree)
    folders = {""}
    # A folder holding more than half a group's share is divided into its entries.
    while units:
        largest = max(units, key=lambda unit: unit[0])
        count, path, subtree = largest
        if (
            subtree is None
            or count * 2 * groups <= total
            or len(units) - 1 + len(subtree) > SPLIT_PATHS_MAX
        ):
            break
        units.remove(largest)
        units.extend(units_of(path, subtree))
        folders.add(path)
    grouped: list[list[str]] = [[] for _ in range(groups)]
    loads = [0] * groups
    for count, path, _ in sorted(units, key=lambda unit: (-unit[0], unit[1])):
        lightest = loads.index(min(loads))
        grouped[lightest].append(path)
        loads[lightest] += count
    return TreeSplit(tuple(tuple(group) for group in grouped if group), frozenset(folders))


class WorkTreeRead:
    """`index` against the work tree, in parts to be merged. With a `split`, helper threads
    start reading its groups at once, each with its own repository (`reopen`), as libgit2
    objects must not be used by two threads at once; the caller's thread joins them in `parts`
    once it has compared the base with the index. Each thread takes the next group until none
    is left, so whichever is free reads more: a fixed share left one thread waiting for the
    other (a thread of the pool reads more slowly than the caller's, and the caller's own work
    before varies)."""

    def __init__(
        self,
        repo: pygit2.Repository,
        index: pygit2.Index,
        split: TreeSplit | None,
        flags: DiffOption,
        reopen: Callable[[], pygit2.Repository],
    ) -> None:
        self.repo, self.index, self.split, self.flags = repo, index, split, flags
        if split is None or len(split.groups) < 2:
            self.split = None
            return
        self.groups = [list(group) for group in split.groups]
        self.covered = split.covered()
        appeared: set[str] = set()
        workdir = os.path.realpath(repo.workdir)
        for folder in split.folders:
            path = os.path.join(workdir, folder) if folder else workdir
            if os.path.realpath(path) != path:
                continue  # a link now: libgit2 reads it as one, and nothing below it
            try:
                names = os.listdir(path)
            except OSError:  # gone, or a file now: its entries are deletions in the index
                continue
            appeared.update(f"{folder}/{name}" if folder else name for name in names)
        appeared.discard(".git")
        self.groups[-1].extend(sorted(appeared - self.covered))
        self.covered |= appeared
        self.unread = deque(range(len(self.groups)))  # taken from by every thread
        helpers = min(SPLIT_THREADS - 1, len(self.groups) - 1)
        self.futures = [readers.submit(self.read_reopened, reopen) for _ in range(helpers)]

    def parts(self, index_paths: Iterable[str]) -> list[pygit2.Diff]:
        """The parts, once all are read. `index_paths` are the paths the index holds that the
        split's tree does not (staged since, maybe gone from the work tree): read here too."""
        if self.split is None:
            return [self.index.diff_to_workdir(self.flags)]
        staged = {self.split.unit_of(path) for path in index_paths} - self.covered
        parts = self.read_unread(self.repo, self.index)
        if staged:  # (no paths at all would be the whole tree)
            parts.append(paths_diff(self.repo, self.index, sorted(staged), self.flags))
        for future in self.futures:
            parts.extend(future.result())
        return parts

    def read_unread(self, repo: pygit2.Repository, index: pygit2.Index) -> list[pygit2.Diff]:
        """The groups no thread has taken yet, read one by one until none is left."""
        read: list[pygit2.Diff] = []
        while True:
            try:
                group = self.groups[self.unread.popleft()]
            except IndexError:
                return read
            read.append(paths_diff(repo, index, group, self.flags))

    def read_reopened(self, reopen: Callable[[], pygit2.Repository]) -> list[pygit2.Diff]:
        repo = reopen()
        index = repo.index
        index.read(force=False)
        return self.read_unread(repo, index)


def paths_diff(
    repo: pygit2.Repository, index: pygit2.Index, paths: list[str], flags: DiffOption
) -> pygit2.Diff:
    """`index` against the work tree under `paths` only, each path taken literally (a file, or
    a folder and all below it). pygit2 has no pathspec for this diff: libgit2 is called
    directly, as pygit2's `Index.diff_to_workdir` does."""
    options = ffi.new("git_diff_options *")
    check_error(C.git_diff_options_init(options, 1))
    options.flags = int(flags | DiffOption.DISABLE_PATHSPEC_MATCH)
    result = ffi.new("git_diff **")
    with StrArray(paths) as pathspec:
        pathspec.assign_to(options.pathspec)
        check_error(C.git_diff_index_to_workdir(result, repo._repo, index._index, options))
    return pygit2.Diff.from_c(bytes(ffi.buffer(result)[:]), repo)


IndexStamp = tuple[object, ...]
# Index files known to hold exactly a tree, by their stat data and the tree's id: a session's
# index rarely changes, and comparing the base with it again found nothing (3 ms of the
# caller's thread on 10,000 files, where the threads reading the work tree need it).
indexes_held: OrderedDict[tuple[IndexStamp, pygit2.Oid], None] = OrderedDict()
INDEXES_KEPT = 256


def index_stamp(repo: pygit2.Repository) -> IndexStamp | None:
    """What the index file's content provably depends on, as `count_key` tells for a file
    (git writes a new file and renames it over the old one); None when it cannot be told."""
    path = os.path.join(repo.path, "index")
    try:
        found = os.stat(path)
    except OSError:
        return None
    if racy(found, time.time()):
        return None
    return (path, found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def index_holds(stamp: IndexStamp | None, tree: pygit2.Tree) -> bool:
    """Whether the index file of `stamp` was found to hold exactly `tree`."""
    if stamp is None:
        return False
    with counted_lock:
        return (stamp, tree.id) in indexes_held


def index_held(stamp: IndexStamp | None, tree: pygit2.Tree) -> None:
    """The index file of `stamp` holds exactly `tree` (comparing them found nothing)."""
    if stamp is None:
        return
    with counted_lock:
        indexes_held[(stamp, tree.id)] = None
        while len(indexes_held) > INDEXES_KEPT:
            indexes_held.popitem(last=False)


def racy(found: os.stat_result, now: float) -> bool:
    """Whether a file changed so recently that it may change again without its times showing
    it."""
    whole = found.st_mtime_ns % 1_000_000_000 == 0
    return now - found.st_mtime < (RACY_SECONDS_WHOLE_STAMPS if whole else RACY_SECONDS)


@dataclass(frozen=True)
class LineCount:
    additions: int
    deletions: int
    binary: bool
    changed: bool  # False: the content read is the base's again


UNCHANGED = LineCount(0, 0, binary=False, changed=False)
counted: OrderedDict[tuple[object, ...], LineCount] = OrderedDict()
counted_lock = threading.Lock()


def line_counts(
    repo: pygit2.Repository, diff: pygit2.Diff
) -> list[tuple[pygit2.DiffDelta, LineCount]]:
    """Each delta's added and deleted lines and whether it is binary or, once read, unchanged:
    what libgit2's `Diff.stats` works out. libgit2 counts them when attributes or line-ending
    settings may apply to one of these files; else they are read without looking those up.

    A file's count is kept while its content provably stays the same (its object id, or its
    inode, size and times), the way git's index keeps stat data: a session's diff is asked
    for after every step of its agent, and most files have not changed since."""
    deltas = list(diff.deltas)
    if attributes_may_apply(repo, deltas):
        return [(delta, libgit2_count(diff, at, delta)) for at, delta in enumerate(deltas)]
    now = time.time()
    keys = [count_key(repo.workdir, delta, now) for delta in deltas]
    with counted_lock:
        counts: list[LineCount | None] = [
            counted.get(key) if key is not None else None for key in keys
        ]
    for position, (delta, key) in enumerate(zip(deltas, keys, strict=True)):
        if counts[position] is None:
            count = counts[position] = line_count(repo, diff, position, delta)
            if key is not None:
                with counted_lock:
                    counted[key] = count
                    while len(counted) > COUNTS_KEPT:
                        counted.popitem(last=False)
    return [(delta, count) for delta, count in zip(deltas, counts, strict=True) if count]


def line_count(
    repo: pygit2.Repository, diff: pygit2.Diff, position: int, delta: pygit2.DiffDelta
) -> LineCount:
    sides = quick_sides(repo, delta)
    if sides is None:  # libgit2 reads this one (a submodule, a huge file...)
        return libgit2_count(diff, position, delta)
    old, new = sides
    same_mode = delta.old_file.mode == delta.new_file.mode
    if delta.status == DeltaStatus.MODIFIED and same_mode and old == new:
        return UNCHANGED
    # A rename to the same content is a change all the same.
    return count_of(pygit2.Patch.create_from(old, new), changed=True)


def libgit2_count(diff: pygit2.Diff, position: int, delta: pygit2.DiffDelta) -> LineCount:
    patch = diff[position]
    if patch is None:  # nothing to show
        return LineCount(0, 0, bool(delta.is_binary), changed=not unchanged(delta))
    return count_of(patch)


def count_of(patch: pygit2.Patch, changed: bool | None = None) -> LineCount:
    _, additions, deletions = patch.line_stats
    if changed is None:
        changed = not unchanged(patch.delta)
    return LineCount(additions, deletions, bool(patch.delta.is_binary), changed)


def unchanged(delta: pygit2.DiffDelta) -> bool:
    """A file whose content is back to the base's although the index holds another version
    (committed or staged, then undone in the work tree): the merged diff still lists it as
    modified; once its content was read, its patch says unmodified and its ends are equal."""
    return delta.status == DeltaStatus.UNMODIFIED or (
        delta.status == DeltaStatus.MODIFIED
        and delta.old_file.mode == delta.new_file.mode
        and delta.old_file.id == delta.new_file.id
    )


def count_key(workdir: str, delta: pygit2.DiffDelta, now: float) -> tuple[object, ...] | None:
    """What a delta's count depends on, or None when that cannot be told for sure: a work tree
    file changed very recently may change again without its times showing it."""
    sides: list[object] = [delta.status]
    for side in (delta.old_file, delta.new_file):
        mode = side.mode
        if mode == 0 or side.flags & DiffFlag.VALID_ID:
            sides.append((mode, side.id))
            continue
        path = side.path
        try:
            found = os.lstat(workdir + path)
        except OSError:
            return None
        if racy(found, now):
            return None
        sides.append(
            (
                mode,
                workdir,
                path,
                found.st_dev,
                found.st_ino,
                found.st_size,
                found.st_mtime_ns,
                found.st_ctime_ns,
            )
        )
    return tuple(sides)


def quick_sides(repo: pygit2.Repository, delta: pygit2.DiffDelta) -> tuple[bytes, bytes] | None:
    """Both sides' content, or None when libgit2 must read them."""
    files = (delta.old_file, delta.new_file)
    if delta.status not in COUNTED_STATUSES or any(
        side.mode not in COUNTED_MODES or side.size > QUICK_COUNT_MAX_BYTES for side in files
    ):
        return None
    old = b"" if delta.status in (DeltaStatus.ADDED, DeltaStatus.UNTRACKED) else None
    new = b"" if delta.status == DeltaStatus.DELETED else None
    try:
        old = old if old is not None else side_content(repo, delta.old_file)
        new = new if new is not None else side_content(repo, delta.new_file)
    except OSError:  # changed again meanwhile: libgit2 tells what it finds
        return None
    if old is None or new is None or max(len(old), len(new)) > QUICK_COUNT_MAX_BYTES:
        return None
    return old, new


def side_content(repo: pygit2.Repository, side: pygit2.DiffFile) -> bytes | None:
    """A side's bytes: from the object database when its id is known and stored, else from
    the work tree (a link's target for a link, as libgit2 reads it)."""
    if side.flags & DiffFlag.VALID_ID and side.id in repo.odb:
        _, size = repo.odb.read_header(side.id)
        if size > QUICK_COUNT_MAX_BYTES:
            return None
        _, data = repo.odb.read(side.id)
        return bytes(data)
    path = os.path.join(repo.workdir, side.path)
    if side.mode == FileMode.LINK:
        return os.fsencode(os.readlink(path))
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        return handle.read(QUICK_COUNT_MAX_BYTES + 1)


def attributes_may_apply(repo: pygit2.Repository, deltas: list[pygit2.DiffDelta]) -> bool:
    """Whether any attribute file or line-ending setting could change how one of these files
    is read or counted: `.gitattributes` in one of their folders (work tree or index), the
    repository's info/attributes, the user's and the system's attribute files."""
    config = repo.config
    if any(name in config for name in ATTRIBUTE_SETTINGS):
        return True
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    shared = (Path(repo.path) / "info" / "attributes", home / "git" / "attributes")
    if any(os.path.lexists(path) for path in (*shared, "/etc/gitattributes")):
        return True
    folders = {""}
    for delta in deltas:
        for path in (delta.old_file.path, delta.new_file.path):
            while "/" in path:
                path = path.rsplit("/", 1)[0]
                folders.add(path)
    index = repo.index
    workdir = repo.workdir
    for folder in folders:
        name = f"{folder}/.gitattributes" if folder else ".gitattributes"
        if name in index or os.path.lexists(os.path.join(workdir, name)):
            return True
    return False
