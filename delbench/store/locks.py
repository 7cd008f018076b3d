"""Locks between processes sharing a run directory or a cache: one writer per run directory, one
builder per cache stage while any other process that wants the stage waits for it.

Two layers, because a cache may be shared by the nodes of a cluster:

- An OS file lock (``filelock``; ``flock``), which the kernel drops the moment its holder dies. On one
  machine it alone keeps a second builder out. Many cluster file systems do not carry it across nodes
  (Lustre mounted ``localflock``, some NFS setups), so it cannot be the only guard there.
- The holder record ``<lock>.json`` is also a lease: created with an exclusive ``link`` (atomic on
  NFS and Lustre), naming the holder (pid, host, since when, what for), and touched every
  ``HEARTBEAT_S`` by a thread of the holder while it holds the lock. A record whose holder is a dead
  process on this host is stale at once; one from another host is stale when its heartbeat is older
  than ``STALE_LOCK_S`` (``$DELBENCH_STALE_LOCK_S``, default 10 min). A stale record is broken and
  taken over. Age means time since the last heartbeat, not since the lock was taken, so a live
  holder may keep a pre-training stage for days and is never broken; a node that died or lost the
  file system is.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from delbench.errors import DelbenchError

_local = threading.local()

STALE_LOCK_S = float(os.environ.get("DELBENCH_STALE_LOCK_S", "600"))
HEARTBEAT_S = float(os.environ.get("DELBENCH_LOCK_HEARTBEAT_S", "30"))
WAIT_POLL_S = 1.0  # how often a waiter looks at another host's record


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
    beat: _Heartbeat | None = None
    try:
        token = _claim_record(path, what, wait)
        beat = _Heartbeat(record_path(path), token)
        yield
    finally:
        depths.pop(key, None)
        try:
            if beat is not None:
                beat.stop()
                _release_record(path, beat.token)
        finally:
            file_lock.release()


def _record(what: str, token: str) -> dict[str, Any]:
    from delbench.store.atomic import host_tag

    return {
        "pid": os.getpid(), "host": socket.gethostname(), "host_tag": host_tag(), "token": token,
        "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "what": what, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300] if sys.argv else "",
    }


def _claim_record(lock: Path, what: str, wait: bool) -> str:
    """Create the holder record exclusively (the lease), breaking a stale one; wait for a live one
    (held from another host) or raise ``Busy``. Returns this holder's token."""
    token = uuid.uuid4().hex
    target = record_path(lock)
    while True:
        tmp = target.with_name(f".{target.name}.{token}.tmp")
        tmp.write_text(json.dumps(_record(what, token)))
        try:
            os.link(tmp, target)  # fails if a record exists: the exclusive create that works on NFS
            return token
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        seen = _read_raw(target)
        if _stale(target, seen):
            _break(target, seen)
            continue
        if not wait:
            raise Busy(lock, holder(lock))
        time.sleep(WAIT_POLL_S)


def _read_raw(record: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(record.read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _stale(record: Path, data: dict[str, Any] | None) -> bool:
    from delbench.store.atomic import host_tag

    if data is not None and data.get("host_tag") == host_tag():
        try:
            if not _alive(int(data["pid"])):
                return True
        except (KeyError, TypeError, ValueError):
            pass
    try:
        return time.time() - record.stat().st_mtime > STALE_LOCK_S
    except FileNotFoundError:
        return True  # released meanwhile: try again


def _break(record: Path, seen: dict[str, Any] | None) -> None:
    """Remove the stale record ``seen`` — only that one: if another waiter broke it first and a new
    holder's record is there now, that one is put back."""
    aside = record.with_name(f".{record.name}.{uuid.uuid4().hex}.broken")
    try:
        os.rename(record, aside)
    except FileNotFoundError:
        return
    moved = _read_raw(aside)
    if seen is not None and moved is not None and moved.get("token") != seen.get("token"):
        try:
            os.link(aside, record)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)


def _release_record(lock: Path, token: str) -> None:
    record = record_path(lock)
    data = _read_raw(record)
    if data is None or data.get("token") in (token, None):  # never remove a record that took ours over
        record.unlink(missing_ok=True)


class _Heartbeat:
    """Touches the holder record every ``HEARTBEAT_S`` so other hosts see the holder is alive."""

    def __init__(self, record: Path, token: str) -> None:
        self.record, self.token = record, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lock heartbeat {record.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.record)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


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
    # a killed child not yet reaped by its parent (a job runner's) answers signals but holds nothing
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
