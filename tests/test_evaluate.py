from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.test_pretrain_util import make_root, tiny_protocol


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("fake"))


def test_scratch_metrics_in_unit_interval_and_deterministic(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.stage import evaluate

    p = tiny_protocol()
    a = evaluate(root, p, tmp_path / "a", checkpoint=None, seed=0)
    b = evaluate(root, p, tmp_path / "b", checkpoint=None, seed=0)
    assert [r["task"] for r in a] == ["alpha", "beta"]
    for r in a:
        for key in ("miou", "miou_dataset", "dice", "val_miou"):
            assert 0.0 <= r[key] <= 1.0
        assert r["checkpoint"] == "scratch" and r["seconds"] > 0
    keys = ("miou", "miou_dataset", "dice", "val_miou", "best_step")
    assert [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b]


def test_cache_reuse_and_config_change(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.stage import evaluate, finetuned_dir

    p = tiny_protocol()
    evaluate(root, p, tmp_path, checkpoint=None, seed=0, tasks=["alpha"])
    d = finetuned_dir(root, p, tmp_path, checkpoint=None, task="alpha", seed=0)
    stamp = (d / "result.json").stat().st_mtime_ns
    evaluate(root, p, tmp_path, checkpoint=None, seed=0, tasks=["alpha"])
    assert (d / "result.json").stat().st_mtime_ns == stamp
    q = p.with_overrides({"finetune.lr": 5e-4})
    assert finetuned_dir(root, q, tmp_path, checkpoint=None, task="alpha", seed=0) != d
    assert finetuned_dir(root, p, tmp_path, checkpoint=None, task="alpha", seed=1) != d


def test_model_selection_never_reads_test(root: Path, tmp_path: Path) -> None:
    """Blanking the test masks changes test metrics only: selection (val score, chosen step) is the same."""
    from PIL import Image

    from delbench.store.atomic import sha256_file
    from delbench.data.manifest import read_manifest, write_manifest
    from delbench.evaluate.stage import evaluate

    other = tmp_path / "root"
    shutil.copytree(root, other)
    frame = read_manifest(other)
    test = (frame["role"] == "task") & (frame["split"] == "test")
    for i in np.flatnonzero(test.to_numpy()):
        path = other / frame.loc[i, "mask_path"]
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(path)
        frame.loc[i, "mask_sha256"] = sha256_file(path)
    write_manifest(other, frame)
    p = tiny_protocol()
    a = evaluate(root, p, tmp_path / "a", checkpoint=None, seed=0, tasks=["alpha"])[0]
    b = evaluate(other, p, tmp_path / "b", checkpoint=None, seed=0, tasks=["alpha"])[0]
    assert (a["val_miou"], a["best_step"]) == (b["val_miou"], b["best_step"])


def test_pretrained_checkpoint_and_cross_dataset(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.crossdata import cross_dataset
    from delbench.evaluate.stage import evaluate
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol()
    res = pretrain(root, p, tmp_path, subset=None, seed=0)
    rows = evaluate(root, p, tmp_path, checkpoint=res.checkpoint, seed=0)
    assert all(r["loaded_tensors"] > 0 for r in rows)
    early = evaluate(root, p, tmp_path, checkpoint=res.intermediate[0], seed=0, tasks=["alpha"])
    assert early[0]["checkpoint"].endswith("step_0000003.safetensors")
    matrix = cross_dataset(root, p, tmp_path, checkpoint=res.checkpoint, seed=0)
    assert list(matrix.columns) == ["train_task", "test_task", "miou", "miou_dataset", "dice"]
    assert len(matrix) == 4 and matrix["miou"].between(0, 1).all()
    diag = matrix[matrix.train_task == matrix.test_task].set_index("train_task")["miou"]
    assert diag["alpha"] == pytest.approx(rows[0]["miou"])


def test_frozen_mode_keeps_encoder(root: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from delbench.evaluate.stage import evaluate, finetuned_dir
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"finetune.mode": "frozen"})
    res = pretrain(root, p, tmp_path, subset=None, seed=0)
    evaluate(root, p, tmp_path, checkpoint=res.checkpoint, seed=0, tasks=["alpha"])
    tuned = load_file(str(finetuned_dir(root, p, tmp_path, checkpoint=res.checkpoint, task="alpha", seed=0)
                          / "finetuned.safetensors"))
    pre = load_file(str(res.checkpoint))
    enc = [k for k in pre if k.startswith("encoder.") and k.endswith("weight")]
    assert enc and all(bool((pre[k] == tuned[k]).all()) for k in enc)


def test_probe_mode_trains_only_the_head(root: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from delbench.evaluate.stage import evaluate, finetuned_dir
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"finetune.mode": "probe"})
    res = pretrain(root, p, tmp_path, subset=None, seed=0)
    evaluate(root, p, tmp_path, checkpoint=res.checkpoint, seed=0, tasks=["alpha"])
    tuned = load_file(str(finetuned_dir(root, p, tmp_path, checkpoint=res.checkpoint, task="alpha", seed=0)
                          / "finetuned.safetensors"))
    pre = load_file(str(res.checkpoint))
    body = [k for k in pre if k.startswith(("encoder.", "decoder."))]
    assert body and all(bool((pre[k] == tuned[k]).all()) for k in body)


@pytest.mark.parametrize("extra", [
    {"finetune.head": "hypercolumn"},
    {"finetune.head": "pyramid", "finetune.standardize": True, "finetune.probe_levels": [1, 3]},
])
def test_probe_feature_cache_matches_training_through_the_network(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict
) -> None:
    """The cached-feature probe is a speed-up only: with the cache disabled, the same head is learnt."""
    import torch
    from safetensors.torch import load_file

    from delbench.evaluate import finetune
    from delbench.evaluate.stage import evaluate, finetuned_dir
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"finetune.mode": "probe", **extra})
    res = pretrain(root, p, tmp_path / "pre", subset=None, seed=0)
    runs = {}
    for name, limit in (("cached", finetune.PROBE_CACHE_BYTES), ("direct", 0)):
        monkeypatch.setattr(finetune, "PROBE_CACHE_BYTES", limit)
        rows = evaluate(root, p, tmp_path / name, checkpoint=res.checkpoint, seed=0, tasks=["alpha"])
        d = finetuned_dir(root, p, tmp_path / name, checkpoint=res.checkpoint, task="alpha", seed=0)
        head = {k: v for k, v in load_file(str(d / "finetuned.safetensors")).items() if k.startswith("head.")}
        runs[name] = (rows[0], head)
    (a, head_a), (b, head_b) = runs["cached"], runs["direct"]
    assert head_a and head_a.keys() == head_b.keys()
    if extra.get("finetune.standardize"):
        # the standardising layer holds the features' statistics: it is not the identity it starts as
        assert not torch.allclose(head_a["head.0.std"], torch.ones_like(head_a["head.0.std"]))
        assert not torch.allclose(head_a["head.0.mean"], torch.zeros_like(head_a["head.0.mean"]))
    assert a["best_step"] == b["best_step"]
    for k in head_a:
        torch.testing.assert_close(head_a[k], head_b[k], rtol=1e-4, atol=1e-5)
    for key in ("miou", "miou_dataset", "dice", "val_miou"):
        assert a[key] == pytest.approx(b[key], abs=1e-3), key


def test_unknown_task_and_missing_checkpoint(root: Path, tmp_path: Path) -> None:
    from delbench.errors import DelbenchError
    from delbench.evaluate.stage import evaluate

    p = tiny_protocol()
    with pytest.raises(DelbenchError, match="task 'gamma' not in"):
        evaluate(root, p, tmp_path, checkpoint=None, seed=0, tasks=["gamma"])
    with pytest.raises(DelbenchError, match="run `delbench pretrain`"):
        evaluate(root, p, tmp_path, checkpoint=tmp_path / "nope.safetensors", seed=0)


def test_cli_evaluate(root: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from delbench.cli import cli

    res = CliRunner().invoke(cli, ["evaluate", str(root), "--cache", str(tmp_path), "--seed", "0", "--task", "alpha",
                                   "--set", "pretrain.image_size=32", "--set", "pretrain.width=4",
                                   "--set", "pretrain.mask_patch=4", "--set", "finetune.steps=4",
                                   "--set", "finetune.eval_every=2"])
    assert res.exit_code == 0, res.output
    assert "alpha" in res.output and "miou" in res.output


def test_smp_unet_pretrains_and_fine_tunes(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.stage import evaluate
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"pretrain.arch": "smp_unet", "pretrain.encoder": "resnet18", "finetune.head": "unet",
                         "finetune.mode": "full", "pretrain.epochs_at_full": 0.34, "finetune.steps": 2,
                         "finetune.eval_every": 2})
    res = pretrain(root, p, tmp_path, subset=None, seed=0)
    row = evaluate(root, p, tmp_path, checkpoint=res.checkpoint, seed=0, tasks=["alpha"])[0]
    assert row["loaded_tensors"] > 100 and 0 <= row["miou"] <= 1


def test_standardised_probe_does_not_depend_on_feature_scale() -> None:
    """Scaling the deepest encoder level (a gain on its last BatchNorm, which ReLU passes on) leaves a
    standardised probe's predictions as they were; an unstandardised probe reads a different input and
    predicts something else."""
    import torch

    from delbench.evaluate.finetune import fit
    from delbench.evaluate.measure import predict
    from delbench.nets.models import build_seg_net
    from delbench.nets.runtime import setup

    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    ys = np.zeros((12, 32, 32), np.uint8)
    ys[:, 8:20, 10:24] = 1
    xs[ys.astype(bool)] //= 3  # a darker square to find
    dev, _ = setup("cpu")
    agree = {}
    for standardize in (True, False):
        p = tiny_protocol(**{"finetune.mode": "probe", "finetune.head": "pyramid", "finetune.standardize": standardize,
                             "finetune.steps": 20, "finetune.eval_every": 20})
        torch.manual_seed(1)
        state = build_seg_net(p.network(), 1, "pyramid").state_dict()
        # two gains, both large enough that BatchNorm's eps is negligible beside the features' variance
        gains = [{k: v * g if k in ("encoder.stages.3.4.weight", "encoder.stages.3.4.bias") else v
                  for k, v in state.items()} for g in (100.0, 10000.0)]
        preds = [predict(fit(p, (xs, ys), (xs[:4], ys[:4]), task="t", state=s, seed=0, dev=dev)[0], xs, dev)
                 for s in gains]
        agree[standardize] = (preds[0] == preds[1]).float().mean().item()
    assert agree[True] > 0.995, agree
    assert agree[False] < agree[True], agree


def test_feature_stats_are_the_per_channel_mean_and_spread_over_every_batch() -> None:
    import torch

    from delbench.evaluate.finetune import feature_stats
    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_seg_net

    torch.manual_seed(0)
    net = build_seg_net(tiny_protocol().network(), 1, "pyramid").eval()
    images = np.random.default_rng(0).integers(0, 256, (70, 32, 32, 3), dtype=np.uint8)  # two batches of 64
    mean, std = feature_stats(net, images, torch.device("cpu"))
    with torch.no_grad():
        f = net.features(to_tensor(images, IMAGENET_MEAN, IMAGENET_STD)).double()
    torch.testing.assert_close(mean, f.mean(dim=(0, 2, 3)).float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(std, f.std(dim=(0, 2, 3), unbiased=False).float(), rtol=1e-4, atol=1e-6)
