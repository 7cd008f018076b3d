"""Stage caching: a stage's output directory is named by a hash of its inputs and config, written in a
temp directory and renamed into place, so a rerun skips finished work and a changed config never
reuses a stale result. A lock beside each stage (``<hash>.lock``, ``delbench.store.locks``) lets one process
build it while any other process that wants it waits, then reuses what the first one built."""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from delbench.store.atomic import atomic_dir, write_json
from delbench.store.locks import hold

DONE = "stage.json"


def config_hash(config: Any, length: int = 16) -> str:
    """A stable hash of a JSON-able config (keys sorted; floats by repr)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def is_done(path: str | Path) -> bool:
    return (Path(path) / DONE).is_file()


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def stage_lock(path: str | Path) -> Iterator[None]:
    """Hold the lock of the stage at ``path`` (waiting for another process that holds it)."""
    path = Path(path)
    with hold(lock_path(path), what=f"building {path.parent.name} stage {path.name}"):
        yield


@contextlib.contextmanager
def claim_stage(path: str | Path) -> Iterator[bool]:
    """Hold the stage's lock for the block and say whether the stage still has to be built: False when
    it is done, also when another process built it while this one waited. Compute and ``build_stage``
    inside the block, so two processes never compute the same stage::

        with claim_stage(out) as todo:
            if todo:
                with build_stage(out, config) as tmp:
                    ...
    """
    if is_done(path):  # a finished stage is never rebuilt: no need to lock it
        yield False
        return
    with stage_lock(path):
        yield not is_done(path)


@contextlib.contextmanager
def build_stage(path: str | Path, config: Any) -> Iterator[Path]:
    """Yield a temp directory to fill; on success it becomes ``path`` with a ``stage.json`` marker
    recording ``config``. On failure nothing appears at ``path``. Holds the stage's lock (already held
    inside ``claim_stage``), so two builders never swap the directory under each other."""
    with stage_lock(path), atomic_dir(path) as tmp:
        yield tmp
        write_json(tmp / DONE, {"config": config, "hash": config_hash(config)})
