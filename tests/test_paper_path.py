"""The ``paper`` protocol's code path on a CPU, end to end at a toy size: MAE on a timm ViT, the
per-patch MLP head, full fine-tuning, the ``pool`` embedder. Only sizes are shrunk; every choice of
method is the paper preset's own, so a change that breaks the GPU study breaks this test first."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_pretrain_util import make_root

# sizes only: the recipe (objective, arch, head, mode, embedder, optimiser, schedule) stays the paper's
TOY = {
    "pretrain.encoder": "vit_tiny_patch16_224", "pretrain.image_size": 32, "pretrain.patch": 8,
    "pretrain.mask_patch": 8, "pretrain.batch_size": 4, "pretrain.decoder_dim": 32, "pretrain.decoder_depth": 1,
    "pretrain.epochs_at_full": 1.0, "pretrain.checkpoint_every": 2, "pretrain.device": "cpu",
    "finetune.steps": 4, "finetune.eval_every": 2, "finetune.batch_size": 4,
    "embed.image_size": 32, "embed.batch_size": 8, "seeds": [0],
}


@pytest.fixture(scope="module")
def paper():
    from delbench.protocol import load_protocol

    full = load_protocol("paper")
    toy = full.with_overrides(TOY)
    for key in ("objective", "arch", "mask_ratio", "lr", "warmup_frac", "betas"):
        assert getattr(toy.pretrain, key) == getattr(full.pretrain, key), key
    assert (toy.pretrain.objective, toy.pretrain.arch, toy.finetune.head, toy.finetune.mode, toy.embed.embedder) == \
        ("mae", "vit", "mlp", "full", "pool")
    return toy


def test_paper_unit_pretrains_mae_and_fine_tunes_the_mlp_head(paper, tmp_path: Path) -> None:
    from delbench.compare.plan import Unit
    from delbench.compare.runner import run_unit
    from delbench.embed.stage import embed_pool

    root = make_root(tmp_path / "data")
    out = run_unit(str(root), paper, str(tmp_path / "cache"), Unit("full", 1.0, 1.0, 0, None, True, 0.0, 0),
                   ["alpha"], False)
    assert out["pretrain_steps"] == paper.pretrain_steps(24)
    (row,) = out["rows"]
    assert row["task"] == "alpha" and 0 <= row["miou"] <= 1 and row["loaded_tensors"] > 10  # the MAE encoder was loaded
    vectors = embed_pool(root, paper, tmp_path / "cache" / "stages")  # the pool embedder reuses that pre-training
    import numpy as np

    emb = np.load(vectors)
    assert emb.shape[0] == 24 and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)


def test_paper_pretraining_resumes_bit_for_bit(paper, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from delbench.pretrain.stage import pretrain

    root = make_root(tmp_path / "data")
    p = paper.with_overrides({"pretrain.epochs_at_full": 2.0})
    whole = pretrain(root, p, tmp_path / "a", subset=None, seed=0)
    stopped = pretrain(root, p, tmp_path / "b", subset=None, seed=0, stop_after=5)
    assert stopped.meta.get("interrupted")
    resumed = pretrain(root, p, tmp_path / "b", subset=None, seed=0)
    assert resumed.meta["resumed_from"] == 5 < whole.steps  # from the stopped run's checkpoint, not from 0
    a, b = load_file(str(whole.checkpoint)), load_file(str(resumed.checkpoint))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
