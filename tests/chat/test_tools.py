"""The agent's built-in tools, acting on a real sandbox of each provider this machine runs."""

from __future__ import annotations

import anyio
import pytest

from apps.chat.tools import ToolBox, ToolResult
from apps.gitops.provider import git_provider


@pytest.fixture
def toolbox(provider, running) -> ToolBox:
    return ToolBox(provider, running)


def call(toolbox: ToolBox, name: str, **arguments) -> ToolResult:
    return anyio.run(toolbox.call, name, arguments)


def head_of(copy) -> str:
    return git_provider().head(copy)


class TestSpecs:
    def test_the_tools_are_offered_as_claude_codes_users_know_them(self, toolbox):
        specs = anyio.run(toolbox.specs)

        functions = {spec["function"]["name"]: spec["function"] for spec in specs}
        assert list(functions) == ["Bash", "Read", "Write", "Edit", "Glob", "Grep", "TodoWrite"]
        assert {spec["type"] for spec in specs} == {"function"}
        assert functions["Edit"]["parameters"]["required"] == [
            "file_path",
            "old_string",
            "new_string",
        ]


class TestBash:
    def test_a_command_runs_in_the_working_copy_with_its_exit_code(self, toolbox):
        result = call(toolbox, "Bash", command="cat README.md; echo oops >&2; exit 3")

        assert result.error is None
        assert result.output == {
            "exitCode": 3,
            "stdout": "# Demo\nhello world\n",
            "stderr": "oops\n",
        }

    def test_a_command_past_its_timeout_is_stopped_and_says_so(self, toolbox):
        result = call(toolbox, "Bash", command="echo started; sleep 60", timeout=1)

        assert result.error == "The command timed out after 1 s"
        assert result.output["timedOut"] is True
        assert result.output["stdout"] == "started\n"

    def test_the_timeout_asked_for_is_capped_by_the_setting(self, toolbox, settings):
        settings.AGENT_BASH_TIMEOUT_MAX_SECONDS = 1

        result = call(toolbox, "Bash", command="sleep 60", timeout=3600)

        assert result.error == "The command timed out after 1 s"

    def test_output_past_the_cap_is_cut_and_flagged(self, toolbox, settings):
        settings.AGENT_TOOL_OUTPUT_MAX_BYTES = 1000

        result = call(toolbox, "Bash", command="yes | head -c 100000")

        assert result.output["stdout"] == "y\n" * 500
        assert result.output["truncated"] == "output past 1000 bytes was cut"
        assert result.output["exitCode"] == 0

    def test_a_timeout_that_is_not_positive_is_refused(self, toolbox):
        assert call(toolbox, "Bash", command="true", timeout=0).error == (
            "timeout must be a positive number of seconds"
        )


class TestRead:
    def test_lines_come_numbered_like_cat_n(self, toolbox):
        result = call(toolbox, "Read", file_path="src/app.py")

        assert result.output == "     1\tdef greet():\n     2\t    return 'hello'"

    def test_offset_and_limit_choose_the_lines(self, toolbox, working_copy):
        (working_copy / "many.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))

        result = call(toolbox, "Read", file_path="/workspace/many.txt", offset=4, limit=2)

        assert result.output == "     4\tline 4\n     5\tline 5"

    def test_a_missing_file_and_a_folder_are_errors(self, toolbox):
        assert call(toolbox, "Read", file_path="nope.txt").error == (
            "/workspace/nope.txt does not exist or is not a file"
        )
        assert call(toolbox, "Read", file_path="src").error == (
            "/workspace/src does not exist or is not a file"
        )

    def test_a_file_larger_than_the_cap_is_read_in_part(self, toolbox, working_copy, settings):
        settings.AGENT_TOOL_OUTPUT_MAX_BYTES = 100
        (working_copy / "big.txt").write_text("".join(f"{n:09d}\n" for n in range(100)))

        output = call(toolbox, "Read", file_path="big.txt").output

        assert output.splitlines()[-1] == "(cut at 10 lines: read on with offset)"
        assert output.splitlines()[-2] == "    10\t000000009"


class TestWrite:
    def test_a_new_file_shows_in_the_working_copy_and_its_diff(self, toolbox, working_copy):
        base = head_of(working_copy)

        result = call(toolbox, "Write", file_path="docs/new/notes.md", content="written\n")

        assert result == ToolResult(output="Wrote /workspace/docs/new/notes.md")
        assert (working_copy / "docs/new/notes.md").read_text() == "written\n"
        diff = git_provider().diff(working_copy, base=base)
        assert [(f.path, f.status) for f in diff.files] == [("docs/new/notes.md", "added")]

    def test_an_existing_file_is_replaced_whatever_its_size(self, toolbox, working_copy):
        content = "x" * 300_000 + "\n"  # longer than one command-line argument may be

        assert call(toolbox, "Write", file_path="README.md", content=content).error is None
        assert (working_copy / "README.md").read_text() == content

    def test_a_folder_cannot_be_written(self, toolbox):
        assert call(toolbox, "Write", file_path="src", content="x").error == (
            "/workspace/src is a folder"
        )


class TestEdit:
    def test_the_exact_text_is_replaced(self, toolbox, working_copy):
        result = call(
            toolbox, "Edit", file_path="src/app.py", old_string="'hello'", new_string="'hi'"
        )

        assert result.output == "Edited /workspace/src/app.py: 1 replacement(s)"
        assert (working_copy / "src/app.py").read_text() == "def greet():\n    return 'hi'\n"

    def test_text_not_found_is_an_error_saying_so(self, toolbox, working_copy):
        result = call(toolbox, "Edit", file_path="README.md", old_string="absent", new_string="x")

        assert result.error == "old_string was not found in /workspace/README.md"
        assert (working_copy / "README.md").read_text() == "# Demo\nhello world\n"

    def test_text_found_twice_needs_replace_all(self, toolbox, working_copy):
        (working_copy / "twice.txt").write_text("a-b-a\n")

        refused = call(toolbox, "Edit", file_path="twice.txt", old_string="a", new_string="c")
        replaced = call(
            toolbox, "Edit", file_path="twice.txt", old_string="a", new_string="c", replace_all=True
        )

        assert refused.error == (
            "old_string occurs 2 times in /workspace/twice.txt: give more context to make it "
            "unique, or set replace_all"
        )
        assert replaced.output == "Edited /workspace/twice.txt: 2 replacement(s)"
        assert (working_copy / "twice.txt").read_text() == "c-b-c\n"

    def test_an_edit_that_changes_nothing_is_refused(self, toolbox):
        same = {"old_string": "hello", "new_string": "hello"}

        result = call(toolbox, "Edit", file_path="README.md", **same)

        assert result.error == "old_string and new_string are the same: nothing would change"

    def test_a_missing_file_is_an_error(self, toolbox):
        result = call(toolbox, "Edit", file_path="gone.py", old_string="a", new_string="b")

        assert result.error == "/workspace/gone.py does not exist or is not a file"


class TestGlob:
    def test_files_matching_the_pattern_are_listed_as_paths_in_the_workspace(
        self, toolbox, working_copy
    ):
        (working_copy / "src" / "deep").mkdir()
        (working_copy / "src" / "deep" / "util.py").write_text("")

        found = call(toolbox, "Glob", pattern="**/*.py").output

        assert sorted(found) == ["/workspace/src/app.py", "/workspace/src/deep/util.py"]

    def test_a_path_narrows_the_search(self, toolbox, working_copy):
        (working_copy / "other.py").write_text("")

        assert call(toolbox, "Glob", pattern="*.py", path="src").output == ["/workspace/src/app.py"]

    def test_nothing_found_is_an_empty_list(self, toolbox):
        assert call(toolbox, "Glob", pattern="*.rs") == ToolResult(output=[])


class TestGrep:
    def test_matching_lines_come_with_path_and_line_number(self, toolbox):
        result = call(toolbox, "Grep", pattern="hel+o")

        assert sorted(result.output.splitlines()) == [
            "./README.md:2:hello world",
            "./src/app.py:2:    return 'hello'",
        ]

    def test_glob_and_path_narrow_the_search(self, toolbox):
        assert call(toolbox, "Grep", pattern="hello", glob="*.py").output == (
            "./src/app.py:2:    return 'hello'"
        )
        assert call(toolbox, "Grep", pattern="hello", path="README.md").output == "2:hello world"

    def test_no_match_says_so_and_a_bad_pattern_is_an_error(self, toolbox):
        assert call(toolbox, "Grep", pattern="absent-text").output == "No matches"
        assert "regex parse error" in str(call(toolbox, "Grep", pattern="(unclosed").error)


class TestTodoWrite:
    def test_the_plan_comes_back_exactly_as_the_web_app_reads_it(self, toolbox):
        todos = [
            {"content": "Read the code", "status": "completed", "priority": "high"},
            {"content": "Fix the bug", "status": "in_progress", "id": "2", "activeForm": "Fixing"},
            {"content": "Run the tests", "status": "pending"},
        ]

        result = call(toolbox, "TodoWrite", todos=todos)

        assert result == ToolResult(
            output=[
                {"content": "Read the code", "status": "completed", "priority": "high"},
                {"content": "Fix the bug", "status": "in_progress"},
                {"content": "Run the tests", "status": "pending"},
            ]
        )

    @pytest.mark.parametrize(
        ("todo", "error"),
        [
            ({"content": "x", "status": "done"}, "todo 1: status must be one of pending, "),
            ({"content": "", "status": "pending"}, "todo 1: content must be a non-empty string"),
            ({"content": "x", "status": "pending", "priority": "urgent"}, "todo 1: priority"),
            ("just text", "todo 1 must be an object"),
        ],
    )
    def test_a_malformed_todo_is_refused(self, toolbox, todo, error):
        assert str(call(toolbox, "TodoWrite", todos=[todo]).error).startswith(error)


class TestArguments:
    @pytest.mark.parametrize(
        ("name", "arguments", "error"),
        [
            ("Read", {}, "file_path is required"),
            ("Read", {"file_path": 3}, "file_path must be of type string"),
            ("Read", {"file_path": "a", "offset": "1"}, "offset must be of type integer"),
            ("Read", {"file_path": "a", "offset": True}, "offset must be of type integer"),
            ("Bash", {"command": "ls", "cwd": "/"}, "Unknown argument(s): cwd"),
            ("Edit", {"file_path": "a", "old_string": "x"}, "new_string is required"),
            ("TodoWrite", {"todos": "all"}, "todos must be of type array"),
            ("Read", ["a"], "The arguments must be a JSON object"),
            ("Delete", {"file_path": "a"}, "There is no tool named Delete"),
        ],
    )
    def test_bad_input_is_a_tool_error_never_an_exception(self, toolbox, name, arguments, error):
        assert anyio.run(toolbox.call, name, arguments) == ToolResult(output=None, error=error)


class TestPathsStayInTheWorkspace:
    @pytest.mark.parametrize(
        ("name", "arguments"),
        [
            ("Read", {"file_path": "../outside.txt"}),
            ("Read", {"file_path": "/etc/passwd"}),
            ("Write", {"file_path": "/tmp/outside.txt", "content": "x"}),
            ("Write", {"file_path": "src/../../outside.txt", "content": "x"}),
            ("Edit", {"file_path": "/etc/hosts", "old_string": "a", "new_string": "b"}),
            ("Glob", {"pattern": "*", "path": ".."}),
            ("Grep", {"pattern": "root", "path": "/etc"}),
        ],
    )
    def test_a_path_outside_is_refused(self, toolbox, tmp_path, name, arguments):
        result = call(toolbox, name, **arguments)

        assert result.output is None
        assert "is outside /workspace: only files in it can be used" in str(result.error)
        assert not (tmp_path / "outside.txt").exists()

    def test_a_symlink_in_the_working_copy_pointing_out_is_refused(
        self, toolbox, working_copy, tmp_path
    ):
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_text("the server's secret\n")
        (working_copy / "escape").symlink_to(outside)
        (working_copy / "etc").symlink_to("/etc")
        refused = "leads outside /workspace (through a symbolic link)"

        attempts = [
            call(toolbox, "Read", file_path="escape/secret.txt"),
            call(toolbox, "Read", file_path="etc/passwd"),
            call(toolbox, "Write", file_path="escape/planted.txt", content="x"),
            call(toolbox, "Edit", file_path="escape/secret.txt", old_string="the", new_string="a"),
            call(toolbox, "Grep", pattern="secret", path="escape"),
            call(toolbox, "Glob", pattern="*", path="escape"),
        ]

        assert [refused in (result.error or "") for result in attempts] == [True] * 6
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
        assert (outside / "secret.txt").read_text() == "the server's secret\n"

    def test_a_symlink_that_stays_inside_is_followed(self, toolbox, working_copy):
        (working_copy / "link.py").symlink_to("src/app.py")

        assert call(toolbox, "Read", file_path="link.py", limit=1).output == (
            "     1\tdef greet():"
        )
