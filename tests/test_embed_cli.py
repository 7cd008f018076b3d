"""`delbench embed --out`: the embeddings written where the user asks, never over an input."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from tests.test_pretrain_util import make_root

TINY = Path(__file__).parent / "protocols" / "tiny.toml"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("fake"), n_pool=12, tasks=("alpha",))


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_out_writes_embeddings_and_sidecar(root: Path, tmp_path: Path) -> None:
    from delbench.embed.vectors import load_embeddings, read_sidecar

    out = tmp_path / "mine" / "E.npy"
    res = run("embed", root, "--protocol", TINY, "--cache", tmp_path / "cache", "--out", out)
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str(out)
    cached = next((tmp_path / "cache").rglob("embeddings.npy"))
    np.testing.assert_array_equal(load_embeddings(out), load_embeddings(cached))
    assert read_sidecar(out)["n"] == 12
    assert not [p for p in out.parent.iterdir() if p.name not in ("E.npy", "E.json")]  # no temporary left


@pytest.mark.parametrize("target", ["manifest", "image", "weights"])
def test_out_refuses_to_overwrite_an_input(root: Path, tmp_path: Path, target: str) -> None:
    from delbench.data.manifest import manifest_path

    weights = tmp_path / "w.npy"
    weights.write_bytes(b"weights")
    extra: list[Any] = []
    if target == "manifest":
        out = manifest_path(root)  # refused whatever the reason given (not .npy, or the manifest)
    elif target == "image":
        image = root / "pool" / "0000.npy"
        image.write_bytes(b"an input file")
        out = image
    else:
        out = weights
        extra = ["--set", "embed.embedder=timm:resnet10t", "--set", f"embed.weights={weights}"]
    before = out.read_bytes() if out.exists() else None
    res = run("embed", root, "--protocol", TINY, "--cache", tmp_path / "cache", "--out", out, *extra)
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("Error:") and "--out" in lines[0], res.output
    if before is not None:
        assert out.read_bytes() == before
    assert not (tmp_path / "cache" / "stages").exists() or not list((tmp_path / "cache").rglob("embeddings.npy"))
