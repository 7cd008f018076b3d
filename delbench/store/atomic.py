"""Atomic writes: every output appears whole or not at all (temp file in the same directory + rename).

A temporary is named ``.<name>.<pid>@<host>.<random>.tmp`` beside its target ``<name>``. A writer
killed outright (``kill -9``, power loss) cannot remove its own, so every writer first sweeps the
stale ones of its target: those whose process is gone (same host and pid namespace), or, for
another host or the older ``.<name>.<random>.tmp`` form, those untouched for ``STALE_AFTER_S``.
Nothing else is touched.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

# Long enough that no live writer on another host (whose process cannot be asked) loses its temporary.
STALE_AFTER_S = 24 * 3600


def _host_tag() -> str:
    """Who can ask whether a pid is alive: this host and, on Linux, this pid namespace (containers
    sharing a folder and a host name still have their own pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:8]


_HOST = _host_tag()
_RANDOM = r"[a-z0-9_]{8}"  # tempfile's random part


def host_tag() -> str:
    """This host and pid namespace as a short tag: records with the same tag can ask after each other's pids."""
    return _HOST


def _prefix(name: str) -> str:
    return f".{name}.{os.getpid()}@{_HOST}."


def sweep_stale(path: str | os.PathLike[str], *, now: float | None = None) -> list[Path]:
    """Remove the stale temporaries of target ``path`` left by killed writers; return what was removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)@([0-9a-f]{{8}})\.)?{_RANDOM}\.tmp")
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not _is_stale(entry, match.group(1), match.group(2), now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue  # another writer swept it first
        removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry[str], pid: str | None, host: str | None, now: float) -> bool:
    if pid is not None and host == _HOST:
        if int(pid) == os.getpid():
            return False  # this process's own, possibly in use by another thread
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; outputs should get the permissions an ordinary open() would give.
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(path.name), suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=json_default) + "\n")


def read_record(path: Path, key: str, what: str, advice: str) -> dict[str, Any]:
    """The JSON object at ``path``, which must hold ``key``; else one line naming the file as not a
    readable ``what``, and ``advice``."""
    from delbench.errors import DelbenchError

    try:
        data = json.loads(Path(path).read_text())
        data[key]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DelbenchError(f"{path}: not a readable {what} ({exc}); {advice}") from None
    return data


def write_npy(path: str | os.PathLike[str], array: Any) -> None:
    """Write a NumPy array as ``.npy`` (never pickled), atomically."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for what run records hold besides plain JSON: numpy scalars and arrays, paths."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
