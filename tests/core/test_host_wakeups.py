"""Without Redis, stream wake-ups cross the processes of one machine through Unix datagram
sockets in DATA_DIR/wakeups (apps.core.host_wakeups). Another process is played here by a
socket named after another pid."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from apps.core import host_wakeups
from apps.core.host_wakeups import HostListener, host_send

WAKEUP = {"type": "stream.wake", "group": "project-events-local", "seq": 7}


@pytest.fixture
def machine(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.REDIS_URL = ""
    return tmp_path / "wakeups"


def other_process_socket(folder: Path, name: str = "99999999-other.sock") -> socket.socket:
    folder.mkdir(mode=0o700, exist_ok=True)
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listening.bind(str(folder / name))
    listening.settimeout(10)
    return listening


def test_a_wakeup_goes_to_every_other_process_and_a_dead_ones_socket_is_removed(machine):
    other = other_process_socket(machine)
    dead = other_process_socket(machine, "99999998-dead.sock")
    dead.close()  # its file stays, nobody listens

    asyncio.run(host_send({**WAKEUP, "frames": ["data: {}\n\n"]}))

    assert json.loads(other.recv(65536)) == [{**WAKEUP, "frames": ["data: {}\n\n"]}]
    assert sorted(os.listdir(machine)) == ["99999999-other.sock"]
    other.close()


def test_the_wakeups_of_one_round_go_together_and_one_too_large_without_its_frames(machine):
    other = other_process_socket(machine)
    small = [{**WAKEUP, "seq": seq, "frames": ["x" * 1000] * 10} for seq in range(20)]
    large = {**WAKEUP, "seq": 99, "frames": ["x" * 1000] * 100}

    async def announce_all() -> None:
        await asyncio.gather(*(host_send(message) for message in [*small, large]))

    asyncio.run(announce_all())

    received: list[dict[str, Any]] = []
    while len(received) < 21:
        datagram = other.recv(host_wakeups.DATAGRAM_MAX_BYTES)
        assert len(datagram) <= host_wakeups.DATAGRAM_MAX_BYTES
        received += json.loads(datagram)
    assert received == [*small, {**WAKEUP, "seq": 99}]  # in 4 datagrams, not 21
    other.close()


def test_with_redis_nothing_is_sent_through_the_machine(machine, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    other = other_process_socket(machine)
    other.settimeout(0.2)

    asyncio.run(host_send(WAKEUP))

    with pytest.raises(TimeoutError):
        other.recv(65536)
    other.close()


def test_a_listener_hands_on_wakeups_and_ignores_anything_else(machine):
    async def scenario() -> list[dict[str, Any]]:
        delivered: list[dict[str, Any]] = []
        arrived = asyncio.Event()

        def deliver(message: dict[str, Any]) -> None:
            delivered.append(message)
            arrived.set()

        listener = HostListener(asyncio.get_running_loop(), deliver)
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        target = host_wakeups.address(listener.folder, listener.name)
        for garbage in (
            b"not json",
            b"[1, 2]",
            json.dumps([{**WAKEUP, "type": "something.else"}]).encode(),
            json.dumps([{**WAKEUP, "seq": "7"}]).encode(),
            json.dumps([{**WAKEUP, "frames": [1]}]).encode(),
            json.dumps(WAKEUP).encode(),  # not in a list
        ):
            sender.sendto(garbage, target)
        sender.sendto(json.dumps([WAKEUP]).encode(), target)
        await asyncio.wait_for(arrived.wait(), 10)
        sender.close()
        listener.close()
        return delivered

    assert asyncio.run(scenario()) == [WAKEUP]
    assert os.listdir(machine) == []  # a closed listener leaves no socket behind
