"""Where a service's run writes: `.discobot/run/<service>/<run>/` in the working copy (`out`,
`err`, and `exit` once it ended), kept out of git by a `.gitignore` of its own.

The files are on the server's disk whichever the provider (the working copy is the sandbox's
/workspace), so status and output are read here, without a call into the sandbox. The sandbox
writes that folder too: it is reached through folder descriptors, never through a link.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path

from apps.gitops.files import READ_FLAGS
from apps.gitops.paths import WorkTree

RUN_FOLDER = (".discobot", "run")
EXIT_MAX_BYTES = 32

# Run in the sandbox from /workspace, as its user: $1 service id, $2 run id, $3 the file.
# The service gets a session of its own (setsid), so that its process group can be ended as
# one and it outlives this exec. The launcher waits for the service's shell to write its pid:
# by then it has left the launcher's process group, which the local provider kills when the
# exec returns. `exit` appears whole (renamed).
LAUNCH_SCRIPT = r"""
set -e
base="$PWD/.discobot/run"
mkdir -p "$base"
[ -e "$base/.gitignore" ] || printf '*\n' > "$base/.gitignore"
rm -rf "${base:?}/$1"
run="$base/$1/$2"
mkdir -p "$run"
service='echo $$ >"$2/pid"; "$1" >"$2/out" 2>"$2/err" </dev/null
echo $? >"$2/exit.part"; mv "$2/exit.part" "$2/exit"'
setsid sh -c "$service" sh "$3" "$run" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -s "$run/pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
cat "$run/pid"
"""

# $1 the run's process group: TERM, then KILL after up to 5 s.
STOP_SCRIPT = r"""
kill -TERM -"$1" 2>/dev/null || exit 0
i=0
while [ $i -lt 50 ]; do
    sleep 0.1
    kill -0 -"$1" 2>/dev/null || exit 0
    i=$((i + 1))
done
kill -KILL -"$1" 2>/dev/null || true
"""


def run_file_read(
    working_copy: Path, service_id: str, run_id: str, name: str, *, offset: int, limit: int
) -> bytes | None:
    """Up to `limit` bytes of the run's file `name` from `offset`; None while it is missing
    (or is anything but a regular file)."""
    run_folder = (*RUN_FOLDER, service_id, run_id)
    with suppress(OSError), WorkTree(working_copy) as tree, tree.folder(run_folder) as folder:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return os.pread(fd, limit, offset)
        finally:
            os.close(fd)
    return None


def run_exit_code(working_copy: Path, service_id: str, run_id: str) -> int | None:
    """The run's exit code once it ended by itself; None while it runs (or was killed)."""
    data = run_file_read(working_copy, service_id, run_id, "exit", offset=0, limit=EXIT_MAX_BYTES)
    if data is None:
        return None
    try:
        return int(data.strip())
    except ValueError:
        return -1
