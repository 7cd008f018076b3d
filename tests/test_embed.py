from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_pretrain_util import make_root, tiny_protocol


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("fake"))


def test_thumb_embedder(root: Path, tmp_path: Path) -> None:
    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings, read_sidecar

    path = embed_pool(root, tiny_protocol(), tmp_path)
    emb = load_embeddings(path)
    assert emb.shape == (24, 768)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert read_sidecar(path)["embedder"] == "thumb"
    assert embed_pool(root, tiny_protocol(), tmp_path) == path


def test_pool_embedder_uses_full_pretraining(root: Path, tmp_path: Path) -> None:
    from delbench.embed.stage import embed_pool
    from delbench.pretrain.stage import stage_config
    from delbench.store.cache import config_hash
    from delbench.embed.vectors import load_embeddings

    p = tiny_protocol(**{"embed.embedder": "pool"})
    path = embed_pool(root, p, tmp_path)
    assert load_embeddings(path).shape == (24, 8 + 16 + 32)
    full = tmp_path / "pretrain" / config_hash(stage_config(root, p, None, p.seeds[0]))
    assert (full / "stage.json").is_file()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_timm_embedder_local_weights(root: Path, tmp_path: Path, suffix: str) -> None:
    import timm
    import torch

    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings

    model = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    weights = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    else:
        torch.save(model.state_dict(), weights)
    p = tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": str(weights)})
    emb = load_embeddings(embed_pool(root, p, tmp_path))
    assert emb.shape == (24, model.num_features)


def test_timm_embedder_errors(root: Path, tmp_path: Path) -> None:
    from delbench.errors import DelbenchError
    from delbench.embed.stage import embed_pool

    with pytest.raises(DelbenchError, match="no such timm model"):
        embed_pool(root, tiny_protocol(**{"embed.embedder": "timm:resnet10tt"}), tmp_path)
    with pytest.raises(DelbenchError, match="weights"):
        embed_pool(root, tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": "/nope.pt"}), tmp_path)


def _save(state: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def test_timm_weights_with_renamed_keys_are_refused(root: Path, tmp_path: Path) -> None:
    import timm

    from delbench.embed.stage import embed_pool
    from delbench.errors import DelbenchError

    state = timm.create_model("resnet10t", pretrained=False, num_classes=0).state_dict()
    # every learned tensor renamed; the BatchNorm step counters keep their names, as in a file saved
    # from a wrapper that renamed only parameters
    renamed = {(k if k.endswith("num_batches_tracked") else "backbone." + k): v for k, v in state.items()}
    assert any(k.endswith("num_batches_tracked") for k in renamed)  # what defeated the old guard
    weights = _save(renamed, tmp_path / "renamed.safetensors")
    p = tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": str(weights)})
    with pytest.raises(DelbenchError) as err:
        embed_pool(root, p, tmp_path / "cache")
    line = str(err.value)
    assert "\n" not in line and str(weights) in line and "0.0%" in line
    assert "conv1.0.weight" in line and "allow_partial" in line
    assert not (tmp_path / "cache" / "embed").exists() or not list((tmp_path / "cache" / "embed").glob("*/embeddings.npy"))


def test_timm_weights_of_another_architecture_are_refused(root: Path, tmp_path: Path) -> None:
    import timm

    from delbench.embed.stage import embed_pool
    from delbench.errors import DelbenchError

    other = timm.create_model("resnet14t", pretrained=False, num_classes=0).state_dict()
    weights = _save(other, tmp_path / "other.safetensors")
    p = tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": str(weights)})
    with pytest.raises(DelbenchError, match=r"only \d+\.\d% of timm model resnet10t"):
        embed_pool(root, p, tmp_path)


def test_partial_weights_load_when_allowed(root: Path, tmp_path: Path) -> None:
    import timm

    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import read_sidecar

    state = timm.create_model("resnet10t", pretrained=False, num_classes=0).state_dict()
    partial = {k: v for k, v in state.items() if not k.startswith("layer4")}
    weights = _save(partial, tmp_path / "partial.safetensors")
    p = tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": str(weights), "embed.allow_partial": True})
    side = read_sidecar(embed_pool(root, p, tmp_path))
    assert 0.0 < side["weights_share_loaded"] < 1.0


def test_matching_weights_load_exactly(root: Path, tmp_path: Path) -> None:
    import timm
    import torch

    from delbench.embed.stage import _timm_model
    from delbench.embed.timm_weights import load_weights_file

    source = timm.create_model("resnet10t", pretrained=False, num_classes=1000)  # a file with its classifier
    weights = _save(source.state_dict(), tmp_path / "w.safetensors")
    model, _, _, share = _timm_model("resnet10t", weights, 32)
    assert share == 1.0
    for key, value in model.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    fresh = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    assert load_weights_file(fresh, "resnet10t", weights, allow_partial=False) == 1.0


def test_timm_defaults_come_from_the_model() -> None:
    from delbench.embed.settings import default_batch, embed_batch_size, embed_image_size

    p = tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.image_size": 0, "embed.batch_size": 0})
    assert embed_image_size(p) == 176  # timm's data config for resnet10t
    assert embed_image_size(tiny_protocol(**{"embed.embedder": "timm:vit_small_patch16_224", "embed.image_size": 0})) == 224
    assert embed_batch_size(p, 176) == default_batch(176) > default_batch(224) >= 1
    assert embed_image_size(tiny_protocol(**{"embed.image_size": 48})) == 48
    assert embed_batch_size(tiny_protocol(**{"embed.batch_size": 5}), 224) == 5


def test_batch_size_shares_one_cache_entry(root: Path, tmp_path: Path) -> None:
    import timm

    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings

    weights = _save(timm.create_model("resnet10t", pretrained=False, num_classes=0).state_dict(), tmp_path / "w.safetensors")

    def proto(batch: int):
        return tiny_protocol(**{"embed.embedder": "timm:resnet10t", "embed.weights": str(weights), "embed.batch_size": batch})

    a = embed_pool(root, proto(5), tmp_path / "one")
    b = embed_pool(root, proto(24), tmp_path / "one")
    assert a == b and len(list((tmp_path / "one" / "embed").glob("*/embeddings.npy"))) == 1
    np.testing.assert_array_equal(load_embeddings(a), load_embeddings(b))
    # computed afresh, the other batch size gives the same vectors up to float rounding (the conv
    # kernels a CPU library picks may differ with the batch), which is why it may share the entry
    c = embed_pool(root, proto(24), tmp_path / "two")
    np.testing.assert_allclose(load_embeddings(a), load_embeddings(c), rtol=0, atol=1e-6)
