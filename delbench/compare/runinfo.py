"""``run.json``: what produced a run — protocol and its hash, versions, plugins, git commit, machine."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from delbench import __version__


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the delbench checkout, when it is one (None for an installed wheel)."""
    where = path or Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def run_info(protocol: Any, extra: dict[str, Any]) -> dict[str, Any]:
    from delbench.plugin.manager import get_plugins

    return {
        "protocol": protocol.to_dict(),
        "protocol_hash": protocol.hash(),
        "versions": {
            "delbench": __version__,
            **{d: _version(d) for d in ("torch", "timm", "segmentation-models-pytorch", "faiss-cpu", "numpy", "pandas")},
            "python": platform.python_version(),
        },
        "plugins": [p.as_dict() for p in get_plugins().info()],
        "git_commit": git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        **extra,
    }
