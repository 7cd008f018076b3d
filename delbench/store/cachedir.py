"""The one default cache location, shared by every command so that stages computed by one (``embed``,
``pretrain``, ``evaluate``) are reused by another (``compare``, ``validate``, ``regress``)."""
from __future__ import annotations

import os
from pathlib import Path


def default_cache() -> Path:
    """``$DELBENCH_CACHE``, else the user cache directory: ``$XDG_CACHE_HOME/delbench`` or ``~/.cache/delbench``."""
    env = os.environ.get("DELBENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "delbench"


def stages_dir(cache: Path | None) -> Path:
    """Where stage outputs live inside a cache (``--cache`` or the default); datasets sit beside them."""
    return (cache or default_cache()) / "stages"
