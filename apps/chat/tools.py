"""The agent's tools for one turn: files and commands in the session's sandbox, and the tools of
the agent's MCP servers.

The built-in tools are named and shaped as Claude Code's users know them (issue 13, item 3).
Every one acts through the sandbox (an exec or a spawned program), never on the server's disk,
so a docker sandbox stays the only place the agent touches. Paths are relative to /workspace or
absolute inside it; the sandbox itself resolves them (symbolic links included) and refuses one
that leads out, in the same command that then acts on it.
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread
from django.conf import settings

from apps.chat.masking import masked_value
from apps.chat.mcp import MCPConnections, MCPServerConfig
from apps.chat.tools_base import ToolError, ToolResult
from apps.sandbox.provider import WORKSPACE, ExecResult, SandboxProvider
from discobot.redaction import SecretMasker

BASH_TIMEOUT_DEFAULT = 120.0
READ_LINES_DEFAULT = 2000
READ_LINE_MAX_CHARS = 2000  # longer lines are cut, as `Read` does for Claude Code
GLOB_RESULTS_MAX = 100
TODO_STATUSES = ("pending", "in_progress", "completed")
TODO_PRIORITIES = ("high", "medium", "low")
# A file command's own exit codes, apart from those of the programs it runs.
OUTSIDE, NOT_A_FILE = 90, 91
# Sets `inside` (is "$1", resolved by the sandbox, in the working copy?); runs with cwd /workspace.
GUARD = (
    'root=$(pwd -P); inside() { real=$(realpath -m -- "$1") || return 1; '
    'case "$real" in "$root"|"$root"/*) return 0;; esac; return 1; }; '
)
FILE_COMMAND_SECONDS = 60.0

__all__ = [
    "BUILTIN_SPECS",
    "BUILTIN_TOOLS",
    "MCPServerConfig",
    "ToolBox",
    "ToolError",
    "ToolResult",
]


def string_schema(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


BUILTIN_SPECS: list[dict[str, Any]] = [
    {
        "name": "Bash",
        "description": "Runs a bash command in /workspace of the session's sandbox; returns its "
        "exit code, stdout and stderr.",
        "parameters": {
            "type": "object",
            "properties": {
                "command": string_schema("The command to run."),
                "timeout": {
                    "type": "number",
                    "description": "Seconds before the command is stopped (default 120).",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Read",
        "description": "Reads a text file, its lines numbered as `cat -n` does.",
        "parameters": {
            "type": "object",
            "properties": {
                "file_path": string_schema("Relative to /workspace, or absolute inside it."),
                "offset": {"type": "integer", "description": "The first line to read (1-based)."},
                "limit": {"type": "integer", "description": "How many lines (default 2000)."},
            },
            "required": ["file_path"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Write",
        "description": "Writes a file (made with its folders if missing, replaced otherwise).",
        "parameters": {
            "type": "object",
            "properties": {
                "file_path": string_schema("Relative to /workspace, or absolute inside it."),
                "content": string_schema("The whole new content."),
            },
            "required": ["file_path", "content"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Edit",
        "description": "Replaces the exact text old_string with new_string in a file: it must "
        "occur once, or replace_all must be true.",
        "parameters": {
            "type": "object",
            "properties": {
                "file_path": string_schema("Relative to /workspace, or absolute inside it."),
                "old_string": string_schema("The exact text to replace."),
                "new_string": string_schema("The text to put in its place."),
                "replace_all": {"type": "boolean", "description": "Replace every occurrence."},
            },
            "required": ["file_path", "old_string", "new_string"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Glob",
        "description": "Lists files matching a glob pattern (such as **/*.py), newest first.",
        "parameters": {
            "type": "object",
            "properties": {
                "pattern": string_schema("The glob pattern."),
                "path": string_schema("The folder to search (default /workspace)."),
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Grep",
        "description": "Searches file contents with a regular expression (ripgrep); returns "
        "matching lines as path:line:text.",
        "parameters": {
            "type": "object",
            "properties": {
                "pattern": string_schema("The regular expression."),
                "path": string_schema("The file or folder to search (default /workspace)."),
                "glob": string_schema("Only files matching this glob (such as *.ts)."),
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    },
    {
        "name": "TodoWrite",
        "description": "Replaces the plan: the whole list of todos with their status.",
        "parameters": {
            "type": "object",
            "properties": {
                "todos": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "content": {"type": "string"},
                            "status": {"type": "string", "enum": list(TODO_STATUSES)},
                            "priority": {"type": "string", "enum": list(TODO_PRIORITIES)},
                        },
                        "required": ["content", "status"],
                    },
                }
            },
            "required": ["todos"],
            "additionalProperties": False,
        },
    },
]

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
}
# The same, in OpenAI's function format: the tools every turn has.
BUILTIN_TOOLS = [{"type": "function", "function": spec} for spec in BUILTIN_SPECS]


def arguments_check(spec: dict[str, Any], arguments: Any) -> None:
    """The arguments against the tool's published schema (its top level: names and types)."""
    if not isinstance(arguments, dict):
        raise ToolError("The arguments must be a JSON object")
    schema = spec["parameters"]
    unknown = sorted(set(arguments) - set(schema["properties"]))
    if unknown:
        raise ToolError(f"Unknown argument(s): {', '.join(unknown)}")
    for name in schema["required"]:
        if name not in arguments:
            raise ToolError(f"{name} is required")
    for name, value in arguments.items():
        expected = schema["properties"][name]["type"]
        # JSON has no separate booleans among numbers; Python's bool is an int.
        if isinstance(value, bool) and expected != "boolean":
            raise ToolError(f"{name} must be of type {expected}")
        if not isinstance(value, JSON_TYPES[expected]):
            raise ToolError(f"{name} must be of type {expected}")


def workspace_path(file_path: str) -> str:
    """`file_path` relative to /workspace ("." for itself); refused if it points outside it.
    Symbolic links are the sandbox's to resolve (GUARD)."""
    if not file_path or "\0" in file_path:
        raise ToolError("The path is empty or holds a NUL character")
    absolute = posixpath.normpath(posixpath.join(WORKSPACE, file_path))
    if absolute != WORKSPACE and not absolute.startswith(WORKSPACE + "/"):
        raise ToolError(f"{file_path} is outside {WORKSPACE}: only files in it can be used")
    return posixpath.relpath(absolute, WORKSPACE)


def shown_path(relative: str) -> str:
    return posixpath.normpath(posixpath.join(WORKSPACE, relative))


def outside_message(relative: str) -> str:
    return f"{shown_path(relative)} leads outside {WORKSPACE} (through a symbolic link)"


def changed_path(status_line: str) -> str:
    """The path of a `git status --porcelain` line (`XY path`, `XY old -> new`)."""
    return status_line[3:].rpartition(" -> ")[2]


def text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class ToolBox:
    """The tools of one turn in one session's sandbox. `start` (or `specs`) connects the MCP
    servers; `close` ends them: call both from the same task (an `async with` does)."""

    def __init__(
        self,
        provider: SandboxProvider,
        session_uuid: str,
        mcp_servers: Sequence[MCPServerConfig] = (),
        masker: SecretMasker | None = None,
    ) -> None:
        self.provider = provider
        self.masker = masker or SecretMasker(())
        self.session_uuid = session_uuid
        self.mcp = MCPConnections(provider, session_uuid, mcp_servers)
        self._builtins: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "Bash": self.bash,
            "Read": self.read,
            "Write": self.write,
            "Edit": self.edit,
            "Glob": self.glob,
            "Grep": self.grep,
            "TodoWrite": self.todo_write,
        }

    async def __aenter__(self) -> ToolBox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        await self.mcp.start()

    async def close(self) -> None:
        await self.mcp.close()

    async def specs(self) -> list[dict[str, Any]]:
        """Every tool in OpenAI's function format (name, description, JSON schema)."""
        await self.start()
        return BUILTIN_TOOLS + [{"type": "function", "function": spec} for spec in self.mcp.specs()]

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Runs a tool; whatever goes wrong comes back as the result's error, never raised.
        The project's secrets are masked out of the result before anyone sees it."""
        result = await self._call(name, arguments)
        return ToolResult(
            output=masked_value(result.output, self.masker),
            error=self.masker.mask(result.error) if result.error is not None else None,
        )

    async def _call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        try:
            if name in self._builtins:
                spec = next(spec for spec in BUILTIN_SPECS if spec["name"] == name)
                arguments_check(spec, arguments)
                return await self._builtin(name, arguments)
            if self.mcp.has(name):
                if not isinstance(arguments, dict):
                    raise ToolError("The arguments must be a JSON object")
                return await self.mcp.call(name, arguments)
            raise ToolError(f"There is no tool named {name}")
        except ToolError as error:
            return ToolResult(output=None, error=str(error))
        except Exception as error:  # the turn goes on; the model reads why
            return ToolResult(output=None, error=f"{name} failed: {error}")

    async def _builtin(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        output = await self._builtins[name](arguments)
        if isinstance(output, ToolResult):
            return output
        return ToolResult(output=output)

    # --- sandbox access --------------------------------------------------------------------------

    async def _exec(
        self, command: Sequence[str], *, timeout: float = FILE_COMMAND_SECONDS
    ) -> ExecResult:
        return await anyio.to_thread.run_sync(
            lambda: self.provider.exec(
                self.session_uuid,
                command,
                timeout=timeout,
                output_cap=settings.AGENT_TOOL_OUTPUT_MAX_BYTES,
            )
        )

    async def _file_command(self, script: str, *args: str) -> ExecResult:
        """`script` after GUARD, with `args` as $1...; exit codes OUTSIDE and NOT_A_FILE become
        errors naming the path ($1)."""
        result = await self._exec(["sh", "-c", GUARD + script, "sh", *args])
        if result.exit_code == OUTSIDE:
            raise ToolError(outside_message(args[0]))
        if result.exit_code == NOT_A_FILE:
            raise ToolError(f"{shown_path(args[0])} does not exist or is not a file")
        return result

    async def changes(self) -> set[str]:
        """The working copy's changes as `git status --porcelain` lists them (none when it
        cannot say): what a command changed is the difference between before and after."""
        try:
            result = await self._exec(["git", "status", "--porcelain", "--untracked-files=all"])
        except Exception:  # the audit trail goes without, never the tool
            return set()
        return set(text(result.stdout).splitlines()) if result.exit_code == 0 else set()

    # --- the tools -------------------------------------------------------------------------------

    async def bash(self, arguments: dict[str, Any]) -> ToolResult:
        timeout = float(arguments.get("timeout", BASH_TIMEOUT_DEFAULT))
        if timeout <= 0:
            raise ToolError("timeout must be a positive number of seconds")
        timeout = min(timeout, settings.AGENT_BASH_TIMEOUT_MAX_SECONDS)
        result = await self._exec(["bash", "-c", arguments["command"]], timeout=timeout)
        output: dict[str, Any] = {
            "exitCode": result.exit_code,
            "stdout": text(result.stdout),
            "stderr": text(result.stderr),
        }
        if result.truncated:
            limit = settings.AGENT_TOOL_OUTPUT_MAX_BYTES
            output["truncated"] = f"output past {limit} bytes was cut"
        if result.timed_out:
            output["timedOut"] = True
            return ToolResult(output=output, error=f"The command timed out after {timeout:g} s")
        return ToolResult(output=output)

    async def read(self, arguments: dict[str, Any]) -> str:
        path = workspace_path(arguments["file_path"])
        offset = arguments.get("offset", 1)
        limit = arguments.get("limit", READ_LINES_DEFAULT)
        if offset < 1 or limit < 1:
            raise ToolError("offset and limit must be at least 1")
        last = offset + limit - 1
        result = await self._file_command(
            f'inside "$1" || exit {OUTSIDE}; [ -f "$1" ] || exit {NOT_A_FILE}; '
            'sed -n "$2,$3p" -- "$1"',
            path,
            str(offset),
            str(last),
        )
        if result.exit_code != 0:
            raise ToolError(text(result.stderr).strip() or f"Reading {shown_path(path)} failed")
        lines = text(result.stdout).splitlines()
        if result.truncated and not result.stdout.endswith(b"\n"):
            lines = lines[:-1]  # the last one was cut mid-way
        numbered = [
            f"{number:>6}\t{line[:READ_LINE_MAX_CHARS]}"
            for number, line in enumerate(lines, start=offset)
        ]
        if not numbered:
            return f"{shown_path(path)} has no lines from line {offset} on"
        if result.truncated:
            numbered.append(f"(cut at {len(lines)} lines: read on with offset)")
        return "\n".join(numbered)

    async def write(self, arguments: dict[str, Any]) -> str:
        path = workspace_path(arguments["file_path"])
        await self._write(path, arguments["content"].encode())
        return f"Wrote {shown_path(path)}"

    async def _write(self, path: str, content: bytes) -> None:
        """The content reaches the sandbox on a program's stdin: no argument or environment
        length limits, and no file on the server's disk."""
        script = (
            GUARD + f'inside "$1" || exit {OUTSIDE}; [ ! -d "$1" ] || exit {NOT_A_FILE}; '
            'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        )
        process = await anyio.to_thread.run_sync(
            lambda: self.provider.spawn(self.session_uuid, ["sh", "-c", script, "sh", path])
        )
        try:
            with anyio.fail_after(FILE_COMMAND_SECONDS):
                # A refusing guard reads nothing: its exit code says why.
                with contextlib.suppress(BrokenPipeError):
                    await process.write(content)
                await process.close_stdin()
                errors = b""
                while chunk := await process.read_stderr():
                    errors += chunk
                exit_code = await process.wait()
        finally:
            await process.close()
        if exit_code == OUTSIDE:
            raise ToolError(outside_message(path))
        if exit_code == NOT_A_FILE:
            raise ToolError(f"{shown_path(path)} is a folder")
        if exit_code != 0:
            raise ToolError(text(errors).strip() or f"Writing {shown_path(path)} failed")

    async def edit(self, arguments: dict[str, Any]) -> str:
        path = workspace_path(arguments["file_path"])
        old, new = arguments["old_string"], arguments["new_string"]
        if not old:
            raise ToolError("old_string is empty: use Write to make a file")
        if old == new:
            raise ToolError("old_string and new_string are the same: nothing would change")
        result = await self._file_command(
            f'inside "$1" || exit {OUTSIDE}; [ -f "$1" ] || exit {NOT_A_FILE}; cat -- "$1"', path
        )
        if result.exit_code != 0:
            raise ToolError(text(result.stderr).strip() or f"Reading {shown_path(path)} failed")
        if result.truncated:
            raise ToolError(f"{shown_path(path)} is too large to edit here")
        try:
            content = result.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{shown_path(path)} is not UTF-8 text") from None
        found = content.count(old)
        if found == 0:
            raise ToolError(f"old_string was not found in {shown_path(path)}")
        if found > 1 and not arguments.get("replace_all", False):
            raise ToolError(
                f"old_string occurs {found} times in {shown_path(path)}: give more context to "
                "make it unique, or set replace_all"
            )
        await self._write(path, content.replace(old, new).encode())
        replaced = found if arguments.get("replace_all", False) else 1
        return f"Edited {shown_path(path)}: {replaced} replacement(s)"

    async def glob(self, arguments: dict[str, Any]) -> list[str]:
        path = workspace_path(arguments.get("path", "."))
        pattern = arguments["pattern"]
        if not pattern:
            raise ToolError("pattern is empty")
        result = await self._file_command(
            f'inside "$1" || exit {OUTSIDE}; [ -d "$1" ] || exit {NOT_A_FILE}; '
            'rg --files --hidden --glob \'!.git\' --sortr modified --glob "$2" -- "$1"',
            path,
            pattern,
        )
        if result.exit_code == 127:
            raise ToolError("ripgrep (rg) is not installed in the sandbox")
        if result.exit_code not in (0, 1):  # 1: nothing matched
            raise ToolError(text(result.stderr).strip() or "The search failed")
        found = [shown_path(line) for line in text(result.stdout).splitlines() if line]
        return found[:GLOB_RESULTS_MAX]

    async def grep(self, arguments: dict[str, Any]) -> str:
        path = workspace_path(arguments.get("path", "."))
        pattern = arguments["pattern"]
        glob = arguments.get("glob")
        only = f"--glob {shlex.quote(glob)} " if glob else ""
        result = await self._file_command(
            f'inside "$1" || exit {OUTSIDE}; [ -e "$1" ] || exit {NOT_A_FILE}; '
            "rg --line-number --no-heading --color never --hidden --glob '!.git' "
            f'{only}-e "$2" -- "$1"',
            path,
            pattern,
        )
        if result.exit_code == 127:
            raise ToolError("ripgrep (rg) is not installed in the sandbox")
        if result.exit_code == 1:
            return "No matches"
        if result.exit_code != 0:
            raise ToolError(text(result.stderr).strip() or "The search failed")
        matches = text(result.stdout)
        if result.truncated:
            matches = matches[: matches.rfind("\n") + 1] + "(more matches were cut)"
        return matches.rstrip("\n")

    async def todo_write(self, arguments: dict[str, Any]) -> list[dict[str, str]]:
        """Exactly `[{content, status, priority?}]`, which drives the web app's plan indicator;
        other keys a model sends (Claude Code's `id`, `activeForm`) are dropped."""
        todos = []
        for number, todo in enumerate(arguments["todos"], start=1):
            if not isinstance(todo, dict):
                raise ToolError(f"todo {number} must be an object")
            content, status = todo.get("content"), todo.get("status")
            if not isinstance(content, str) or not content.strip():
                raise ToolError(f"todo {number}: content must be a non-empty string")
            if status not in TODO_STATUSES:
                raise ToolError(f"todo {number}: status must be one of {', '.join(TODO_STATUSES)}")
            item = {"content": content, "status": status}
            if "priority" in todo:
                if todo["priority"] not in TODO_PRIORITIES:
                    choices = ", ".join(TODO_PRIORITIES)
                    raise ToolError(f"todo {number}: priority must be one of {choices}")
                item["priority"] = todo["priority"]
            todos.append(item)
        return todos
