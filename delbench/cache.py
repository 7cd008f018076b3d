"""Stage caching: a stage's output directory is named by a hash of its inputs and config, written in a
temp directory and renamed into place, so a rerun skips finished work and a changed config never
reuses a stale result."""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from delbench.atomic import atomic_dir, write_json

DONE = "stage.json"


def config_hash(config: Any, length: int = 16) -> str:
    """A stable hash of a JSON-able config (keys sorted; floats by repr)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def stage_dir(base: str | Path, stage: str, config: Any) -> Path:
    return Path(base) / stage / config_hash(config)


def is_done(path: str | Path) -> bool:
    return (Path(path) / DONE).is_file()


@contextlib.contextmanager
def build_stage(path: str | Path, config: Any) -> Iterator[Path]:
    """Yield a temp directory to fill; on success it becomes ``path`` with a ``stage.json`` marker
    recording ``config``. On failure nothing appears at ``path``."""
    with atomic_dir(path) as tmp:
        yield tmp
        write_json(tmp / DONE, {"config": config, "hash": config_hash(config)})
