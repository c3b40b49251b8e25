"""GET .../services/{id}/output: the current run's stdout and stderr as server-sent events,
from the start of the run, then live, ending after its `exit` (agent API, Services module:
`data: {json}` frames, then `data: [DONE]`). The output files are tailed by offset, a bounded
chunk at a time: memory does not grow with the output."""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from apps.core.streams import connection_released
from apps.services.models import ServiceRun
from apps.services.runfiles import run_file_read
from apps.services.services import run_settle
from apps.workspaces.models import Session

POLL_SECONDS = 0.25
CHUNK_BYTES = 64 * 1024


def output_frame(kind: str, **fields: Any) -> str:
    event = {"type": kind, **fields, "timestamp": timezone.now().isoformat()}
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


@connection_released
def run_current(session_pk: Any, service_id: str) -> tuple[Session, ServiceRun | None]:
    session = Session.objects.get(pk=session_pk)
    run = ServiceRun.objects.filter(session=session, service_id=service_id).first()
    if run is not None and run.live:
        run_settle(session, run)
    return session, run


async def service_output(session: Session, service_id: str) -> AsyncIterator[str]:
    """Follows the service's current run (waiting for one if it never ran) until it ends."""
    working_copy = Path(session.workspace_path)
    offsets = {"out": 0, "err": 0}
    decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in offsets}
    followed: str | None = None
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    while True:
        _, run = await sync_to_async(run_current, thread_sensitive=False)(session.pk, service_id)
        if run is not None and followed is not None and str(run.id) != followed:
            return  # restarted: the client reconnects to the new run
        if run is not None:
            followed = str(run.id)
            for name, kind in (("out", "stdout"), ("err", "stderr")):
                while True:
                    data = await sync_to_async(run_file_read, thread_sensitive=False)(
                        working_copy,
                        service_id,
                        followed,
                        name,
                        offset=offsets[name],
                        limit=CHUNK_BYTES,
                    )
                    if not data:
                        break
                    offsets[name] += len(data)
                    text = decoders[name].decode(data)
                    if text:
                        yield output_frame(kind, data=text)
                        last_sent = loop.time()
            if not run.live:
                if run.exit_code is not None:
                    yield output_frame("exit", exitCode=run.exit_code)
                else:
                    yield output_frame("exit")
                yield "data: [DONE]\n\n"
                return
        if loop.time() - last_sent >= settings.EVENTS_KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = loop.time()
        await asyncio.sleep(POLL_SECONDS)
