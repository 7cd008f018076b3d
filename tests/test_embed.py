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
