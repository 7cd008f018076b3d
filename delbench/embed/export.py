"""``delbench embed --out``: a copy of the cached embeddings (and sidecar) where the user asks."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError
from delbench.store.atomic import atomic_path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))  # hard links too
    except OSError:
        return False


def check_out(out: Path, root: Path, protocol: Any) -> None:
    """Refuse an ``--out`` (or its sidecar) that is the manifest, a pool image, a file of the
    dataset root, the weights file, or a directory."""
    from delbench.data.manifest import manifest_path
    from delbench.embed.vectors import sidecar_path

    out = Path(out)
    if out.suffix != ".npy":
        raise DelbenchError(f"--out {out}: embeddings are written as .npy; name the file E.npy")
    if out.is_dir():
        raise DelbenchError(f"--out {out} is a directory; name a file such as {out / 'embeddings.npy'}")
    inputs = [(manifest_path(root), "the dataset's manifest")]
    if protocol.embed.weights:
        inputs.append((Path(protocol.embed.weights), "the [embed] weights file"))
    root_dir = Path(root).resolve()
    for written in (out, sidecar_path(out)):
        for path, what in inputs:
            if _same_file(written, path):
                raise DelbenchError(f"--out {out}: writing {written} would overwrite {what} {path}; choose another path")
        if written.exists() and root_dir in written.resolve().parents:
            raise DelbenchError(f"--out {out}: {written} is an existing file of the dataset root {root}; "
                                "choose a path outside it")


def export_embeddings(cached: Path, out: Path) -> None:
    """Copy the embeddings and their sidecar to ``out``, each atomically (the sidecar last, so its
    presence means the copy is whole)."""
    from delbench.embed.vectors import sidecar_path

    if _same_file(cached, out):
        return
    sidecar_path(out).unlink(missing_ok=True)  # a stale sidecar must not describe the new file
    for src, dst in ((cached, out), (sidecar_path(cached), sidecar_path(out))):
        if src.is_file():
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
