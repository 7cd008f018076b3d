"""Locks between processes sharing a run directory or a cache: one writer per run directory, one
builder per cache stage while any other process that wants the stage waits for it.

The lock is an OS file lock (``filelock``; ``flock`` where the file system has it, which the kernel
drops the moment its holder dies), so a killed process never leaves a lock behind, and nothing has to
guess from a file's age whether a holder is gone: a live one may rightly keep a pre-training stage for
hours, and breaking its lock by age would let a second process compute the same stage beside it.

Beside the lock, ``<lock>.json`` names the holder (pid, host, since when, what for) for messages. A
record left by a killed holder can outlive it, so a record naming a dead process on this host is
reported as "another process" rather than trusted.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

from delbench.errors import DelbenchError

_local = threading.local()


class Busy(DelbenchError):
    """A lock asked for without waiting is held elsewhere; ``holder`` says by whom."""

    def __init__(self, lock: Path, holder: str) -> None:
        super().__init__(f"{lock}: held by {holder}")
        self.lock = lock
        self.holder = holder


def record_path(lock: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(lock)}.json")


def _depths() -> dict[str, int]:
    if not hasattr(_local, "depths"):
        _local.depths = {}
    return _local.depths


@contextlib.contextmanager
def hold(lock: str | os.PathLike[str], *, wait: bool = True, what: str = "") -> Iterator[None]:
    """Hold the lock file ``lock`` for the block. ``wait=False`` raises ``Busy`` at once when another
    process (or thread) holds it; otherwise wait for it. Re-entrant within one thread, so a block that
    holds a stage's lock can call code that takes it again."""
    from filelock import FileLock, Timeout

    path = Path(lock)
    key = os.path.abspath(path)
    depths = _depths()
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    file_lock = FileLock(str(path))
    try:
        file_lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise Busy(path, holder(path)) from None
    depths[key] = 1
    try:
        _write_record(path, what)
        yield
    finally:
        depths.pop(key, None)
        try:
            record_path(path).unlink(missing_ok=True)
        finally:
            file_lock.release()


def _write_record(lock: Path, what: str) -> None:
    from delbench.store.atomic import host_tag, write_json

    write_json(record_path(lock), {
        "pid": os.getpid(), "host": socket.gethostname(), "host_tag": host_tag(),
        "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "what": what, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300] if sys.argv else "",
    })


def read_record(lock: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The holder record beside ``lock``, or None when there is none or it names a dead process here."""
    try:
        record = json.loads(record_path(lock).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    from delbench.store.atomic import host_tag

    if record.get("host_tag") == host_tag() and not _alive(pid):
        return None
    return record


def holder(lock: str | os.PathLike[str]) -> str:
    """Who holds ``lock``, in words: ``pid 123 on host since 2024-05-01T10:00:00+02:00 (its command line)``."""
    record = read_record(lock)
    if record is None:
        return "another process"
    what = record.get("command") or record.get("what")
    return f"pid {record['pid']} on {record.get('host', '?')} since {record.get('since', '?')}" + (f" ({what})" if what else "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
