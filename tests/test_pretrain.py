from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_pretrain_util import make_root, tiny_protocol


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("fake"))


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _same(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def test_equal_compute_same_steps_for_every_ratio(root: Path, tmp_path: Path) -> None:
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol()
    full = pretrain(root, p, tmp_path, subset=None, seed=0)
    small = pretrain(root, p, tmp_path, subset=np.arange(0, 24, 4), seed=0)
    assert full.steps == small.steps == p.pretrain_steps(24)
    assert full.checkpoint != small.checkpoint
    assert small.meta["n_items"] == 6 and full.meta["n_items"] == 24


def test_deterministic_and_cached(root: Path, tmp_path: Path) -> None:
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol()
    a = pretrain(root, p, tmp_path / "a", subset=None, seed=1)
    b = pretrain(root, p, tmp_path / "b", subset=None, seed=1)
    assert _same(a.checkpoint, b.checkpoint)
    mtime = a.checkpoint.stat().st_mtime_ns
    again = pretrain(root, p, tmp_path / "a", subset=None, seed=1)
    assert again.checkpoint == a.checkpoint and a.checkpoint.stat().st_mtime_ns == mtime  # reused
    other = pretrain(root, p.with_overrides({"pretrain.lr": 1e-3}), tmp_path / "a", subset=None, seed=1)
    assert other.checkpoint != a.checkpoint  # a changed config is never served from the cache
    assert not _same(other.checkpoint, a.checkpoint)
    assert a.intermediate and a.intermediate[0].name == "step_0000003.safetensors"


def test_resume_equals_uninterrupted(root: Path, tmp_path: Path) -> None:
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"pretrain.epochs_at_full": 2.0})
    whole = pretrain(root, p, tmp_path / "whole", subset=None, seed=2)
    part = pretrain(root, p, tmp_path / "cut", subset=None, seed=2, stop_after=5)
    assert part.meta.get("interrupted") and part.steps == 5
    resumed = pretrain(root, p, tmp_path / "cut", subset=None, seed=2)
    assert resumed.steps == whole.steps == 12
    assert _same(whole.checkpoint, resumed.checkpoint)


@pytest.mark.slow
def test_killed_subprocess_resumes(root: Path, tmp_path: Path) -> None:
    """A process killed mid-run leaves only whole checkpoints; the rerun finishes with the same weights."""
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"pretrain.epochs_at_full": 2.0})
    toml = tmp_path / "tiny.toml"
    toml.write_text(_to_toml(p))
    code = "import sys; from delbench.cli import cli; sys.exit(cli.main(prog_name='delbench'))"
    args = [sys.executable, "-c", code, "pretrain", str(root), "--protocol", str(toml), "--seed", "3",
            "--cache", str(tmp_path / "c"), "--stop-after", "7"]
    subprocess.run(args, check=True, capture_output=True)
    work = next((tmp_path / "c" / "stages" / "pretrain").glob("*.work"))
    assert sorted(f.name for f in work.glob("step_*.json")) == ["step_0000007.json"]
    resumed = pretrain(root, p, tmp_path / "c" / "stages", subset=None, seed=3)
    whole = pretrain(root, p, tmp_path / "w", subset=None, seed=3)
    assert _same(whole.checkpoint, resumed.checkpoint)
    assert not work.exists()


def _to_toml(p: object) -> str:
    import json

    d = p.to_dict()  # type: ignore[attr-defined]
    lines = [f"name = {json.dumps(d.pop('name'))}", f"version = {d.pop('version')}",
             f"seeds = {json.dumps(list(d.pop('seeds')))}"]
    for key in ("description",):
        lines.append(f"{key} = {json.dumps(d.pop(key))}")
    for section, values in d.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def test_mae_forward_backward_tiny_vit() -> None:
    import torch

    from delbench.pretrain.mae import MAE
    from delbench.nets.models import make_vit

    vit = make_vit("vit_tiny_patch16_224", 32, 8, depth=2, embed_dim=48, num_heads=2)
    mae = MAE(vit, decoder_dim=32, decoder_depth=1, mask_ratio=0.75)
    x = torch.randn(2, 3, 32, 32)
    loss = mae(x, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and vit.patch_embed.proj.weight.grad is not None
    assert mae(x, torch.Generator().manual_seed(0)).item() == pytest.approx(loss.item())


def test_mae_protocol_pretrains_and_transfers(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.stage import evaluate
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"pretrain.objective": "mae", "pretrain.arch": "vit", "pretrain.encoder": "vit_tiny_patch16_224",
                         "pretrain.patch": 8, "pretrain.mask_patch": 8, "finetune.head": "fpn",
                         "pretrain.decoder_dim": 32, "pretrain.decoder_depth": 1, "finetune.steps": 2,
                         "finetune.eval_every": 2, "pretrain.epochs_at_full": 0.5})
    res = pretrain(root, p, tmp_path, subset=None, seed=0)
    rows = evaluate(root, p, tmp_path, checkpoint=res.checkpoint, seed=0, tasks=["alpha"])
    assert rows[0]["loaded_tensors"] > 10 and 0 <= rows[0]["miou"] <= 1


@pytest.mark.slow
def test_torchrun_two_cpu_processes(root: Path, tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun not installed")
    p = tiny_protocol()
    toml = tmp_path / "tiny.toml"
    toml.write_text(_to_toml(p))
    code = "import sys; from delbench.cli import cli; sys.exit(cli.main(prog_name='delbench'))"
    script = tmp_path / "run_delbench.py"
    script.write_text(code + "\n")
    env = {**os.environ, "DELBENCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run([torchrun, "--nproc-per-node", "2", "--master-port", "29517", str(script), "pretrain",
                          str(root), "--protocol", str(toml), "--seed", "0", "--cache", str(tmp_path / "c")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    (done,) = [d for d in (tmp_path / "c" / "stages" / "pretrain").iterdir() if (d / "stage.json").is_file()]
    import json

    meta = json.loads((done / "meta.json").read_text())
    assert meta["world"] == 2 and meta["steps"] == p.pretrain_steps(24)
