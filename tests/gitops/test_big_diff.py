"""A big work tree's diff is read on several threads and its lines counted without attribute
lookups (apps.gitops.diffing); the answer is what `git add --all` then `git diff --cached -M`
gives, which these tests ask the git command line for on a copy of the same tree."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pygit2
import pytest

from apps.gitops import diffing
from apps.gitops.provider import git_provider, open_repository
from tests.gitops.conftest import git

GIT_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "T": "modified"}


def tree_of_files(path: Path, *, in_src: int = 100, in_top: int = 50) -> None:
    """`src` holds most files (30 folders of `in_src`), 20 folders hold `in_top` each, and 5
    lie at the top: 4,105 files by default."""
    path.mkdir()
    for folder in range(30):
        (path / "src" / f"s{folder:02d}").mkdir(parents=True)
        for number in range(in_src):
            (path / "src" / f"s{folder:02d}" / f"f{number:04d}.txt").write_text(
                "".join(f"src {folder} {number} line {line}\n" for line in range(8))
            )
    for folder in range(20):
        (path / f"top{folder:02d}").mkdir()
        for number in range(in_top):
            (path / f"top{folder:02d}" / f"f{number:04d}.txt").write_text(
                "".join(f"top {folder} {number} line {line}\n" for line in range(8))
            )
    for number in range(5):
        (path / f"r{number}.txt").write_text(f"root {number}\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "tree")


@pytest.fixture(scope="module")
def big_source(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("big") / "source"
    tree_of_files(source)
    return source


@pytest.fixture(scope="module")
def small_source(tmp_path_factory) -> Path:
    """The same shape with 345 files: one thread reads it, counts are taken the same way."""
    source = tmp_path_factory.mktemp("small") / "source"
    tree_of_files(source, in_src=4, in_top=11)
    return source


def session_copy(source: Path, copy: Path) -> tuple[Path, str]:
    """A session's working copy of `source`, and its base commit."""
    base = git(source, "rev-parse", "HEAD")
    git_provider().working_copy(source, copy, branch="discobot/big", commit=base)
    return copy, base


@pytest.fixture
def big(big_source, tmp_path) -> tuple[Path, str]:
    return session_copy(big_source, tmp_path / "copy")


@pytest.fixture
def small(small_source, tmp_path) -> tuple[Path, str]:
    return session_copy(small_source, tmp_path / "copy")


Change = tuple[str, str | None, int, int, bool]  # status, old path, additions, deletions, binary


def as_git_stages(copy: Path, base: str) -> dict[str, Change]:
    """Each path's change as the git command line stages and counts it."""
    staged = copy.parent / "staged"
    shutil.copytree(copy, staged, symlinks=True)
    git(staged, "add", "--all")
    statuses = git(staged, "diff", "--cached", "-M", "--name-status", "-z", base).split("\0")
    counts = git(staged, "diff", "--cached", "-M", "--numstat", "-z", base).split("\0")
    shutil.rmtree(staged)
    answer: dict[str, Change] = {}
    fields = iter(statuses[:-1])
    for letter in fields:
        old = next(fields) if letter[0] in "RC" else None
        path = next(fields)
        answer[path] = (GIT_STATUS[letter[0]], old, 0, 0, False)
    numbers = iter(counts[:-1])
    for entry in numbers:
        added, deleted, path = entry.split("\t")
        if not path:  # a rename: its two names follow
            next(numbers)
            path = next(numbers)
        status, old, *_ = answer[path]
        binary = added == "-"
        lines = (0, 0) if binary else (int(added), int(deleted))
        answer[path] = (status, old, *lines, binary)
    return answer


def as_served(copy: Path, base: str) -> tuple[dict[str, Change], dict[str, int]]:
    diff = git_provider().diff(copy, base=base, patches=False)
    files = {
        change.path: (
            change.status,
            change.old_path,
            change.additions,
            change.deletions,
            change.binary,
        )
        for change in diff.files
    }
    return files, diff.stats


def totals(files: dict[str, Change]) -> dict[str, int]:
    return {
        "filesChanged": len(files),
        "additions": sum(entry[2] for entry in files.values()),
        "deletions": sum(entry[3] for entry in files.values()),
    }


def test_a_big_tree_is_read_in_groups_that_divide_its_largest_folder(big_source):
    tree = open_repository(big_source).revparse_single("HEAD").peel(pygit2.Tree)

    split = diffing.tree_split_compute(tree, groups=2)

    assert split is not None and len(split.groups) == 2
    assert split.folders == {"", "src"}
    every = sorted(path for group in split.groups for path in group)
    assert every == sorted(
        [f"src/s{n:02d}" for n in range(30)]
        + [f"top{n:02d}" for n in range(20)]
        + [f"r{n}.txt" for n in range(5)]
    )


def test_every_kind_of_change_in_a_big_tree_is_what_git_add_all_would_stage(big):
    copy, base = big
    modified = [copy / "src/s05/f0003.txt", copy / "top03/f0010.txt", copy / "r1.txt"]
    for path in modified:
        path.write_text(path.read_text().replace("line 2\n", "line two\nline 2b\n"))
    (copy / "top07/f0001.txt").unlink()
    (copy / "brand_new/deep").mkdir(parents=True)
    (copy / "brand_new/deep/x.txt").write_text("new\nfolder\n")
    (copy / "src/new_sub").mkdir()
    (copy / "src/new_sub/y.txt").write_text("inside the divided folder\n")
    (copy / "src/loose.txt").write_text("loose\n")
    (copy / "staged_only").mkdir()
    (copy / "staged_only/z.txt").write_text("staged, then removed\n")
    (copy / "staged_dir").mkdir()
    (copy / "staged_dir/w.txt").write_text("staged and kept\n")
    git(copy, "add", "staged_only/z.txt", "staged_dir/w.txt")
    (copy / "staged_only/z.txt").unlink()
    (copy / "top01/f0002.txt").rename(copy / "top15/moved.txt")
    (copy / "top04/blob.bin").write_bytes(b"\0binary\0" * 64)
    restored = copy / "top05/f0004.txt"
    original = restored.read_text()
    restored.write_text("staged change\n")
    git(copy, "add", "top05/f0004.txt")
    restored.write_text(original)
    (copy / "top06/f0005.txt").chmod(0o755)
    (copy / "src/s09/link.txt").symlink_to("f0000.txt")
    (copy / "src/s09/f0001.txt").unlink()
    (copy / "src/s09/f0001.txt").symlink_to("f0002.txt")

    files, stats = as_served(copy, base)

    expected = as_git_stages(copy, base)
    assert files == expected
    assert stats == totals(expected)
    assert "top05/f0004.txt" not in files and "staged_only/z.txt" not in files
    assert files["top15/moved.txt"][:2] == ("renamed", "top01/f0002.txt")
    assert files["top04/blob.bin"][4] is True


def test_counts_asked_again_are_the_same_and_follow_each_change(small):
    copy, base = small
    changed = copy / "top02/f0001.txt"
    changed.write_text(changed.read_text() + "one more\n")
    settled = time.time() - 60
    os.utime(changed, (settled, settled))  # past the racy window: its count is kept

    first, _ = as_served(copy, base)
    again, _ = as_served(copy, base)
    # Rewritten with the same size and modification time: its change time still tells.
    changed.write_text(changed.read_text().replace("one more\n", "two more\n"))
    os.utime(changed, (settled, settled))
    rewritten, _ = as_served(copy, base)

    assert first["top02/f0001.txt"] == again["top02/f0001.txt"] == ("modified", None, 1, 0, False)
    assert rewritten["top02/f0001.txt"] == ("modified", None, 1, 0, False)
    assert rewritten == as_git_stages(copy, base)
    changed.write_text(changed.read_text().replace("two more\n", ""))
    os.utime(changed, (settled, settled))
    assert as_served(copy, base)[0] == {}


def test_an_index_found_to_hold_the_base_is_compared_again_once_it_changes(big):
    copy, base = big
    index = copy / ".git" / "index"
    settled = time.time() - 60
    os.utime(index, (settled, settled))  # past the racy window: what its comparison found is kept
    changed = copy / "top03/f0001.txt"
    changed.write_text(changed.read_text() + "one more\n")

    first, _ = as_served(copy, base)
    again, _ = as_served(copy, base)  # the index is known to hold the base: not compared
    git(copy, "rm", "-q", "--cached", "r1.txt")  # dropped from the index, still in the work tree
    git(copy, "add", "top05/f0004.txt")
    os.utime(index, (settled, settled))
    dropped, _ = as_served(copy, base)

    assert first == again == {"top03/f0001.txt": ("modified", None, 1, 0, False)}
    assert dropped == first == as_git_stages(copy, base)


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param("*.txt binary\n", id="a pattern makes text binary"),
        pytest.param("*.txt -diff\n", id="a pattern turns text diffs off"),
        pytest.param("*.txt text eol=crlf\n", id="a line-ending rule"),
    ],
)
def test_attribute_files_are_honoured_wherever_they_sit(small, attributes):
    copy, base = small
    (copy / "top08/.gitattributes").write_text(attributes)
    changed = copy / "top08/f0001.txt"
    changed.write_bytes(changed.read_bytes().replace(b"line 3\n", b"line three\r\n"))
    plain = copy / "top09/f0001.txt"
    plain.write_text(plain.read_text() + "more\n")

    files, stats = as_served(copy, base)

    assert files == as_git_stages(copy, base)
    assert stats == totals(files)


def test_a_line_ending_setting_is_honoured(small):
    copy, base = small
    git(copy, "config", "core.autocrlf", "true")
    changed = copy / "top08/f0001.txt"
    changed.write_bytes(changed.read_bytes().replace(b"\n", b"\r\n"))
    edited = copy / "top09/f0001.txt"
    edited.write_bytes(edited.read_bytes().replace(b"\n", b"\r\n").replace(b"line 1", b"line 1!"))

    files, _ = as_served(copy, base)

    assert files == as_git_stages(copy, base)
    assert "top08/f0001.txt" not in files


def test_a_divided_folder_replaced_by_a_link_out_of_the_tree_reads_as_a_link(big, tmp_path):
    copy, base = big
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the session's\n")
    shutil.rmtree(copy / "src")
    (copy / "src").symlink_to(outside)

    files, stats = as_served(copy, base)

    assert files == as_git_stages(copy, base)
    assert files["src"] == ("added", None, 1, 0, False)
    assert stats["filesChanged"] == 3001
