"""Embedding the pool for selectors: float32 [N_pool, D], L2-normalised, one row per pool index.

Embedders (``[embed] embedder``; docs/protocols.md, "Embedders", has what each finds on a planted pool):

- ``thumb``: a 16x16 colour thumbnail minus the pool's mean thumbnail (768-d). No training, no
  download; enough for the CPU protocols' near-duplicate and disruptive-frame structure.
- ``pool``: the protocol's own encoder pre-trained on 100% of the pool (the ``full`` reference run,
  needed anyway, so embedding costs no extra pre-training). Conv encoders give the global average of
  every pyramid level, concatenated; ViTs the mean of the last layer's patch tokens (768-d for ViT-B).
  Each dimension is then centred and scaled to unit spread over the pool
  (``delbench.embed.vectors.standardise``): pooled post-ReLU features are all positive and share one
  mean direction, and raw they put every frame within cosine distance 0.05 of its k-means centroid.
- ``phash``: imagehash's 64-bit DCT perceptual hash of the 32-px image, as a +-1 vector, so that
  cosine = 1 - 2 * Hamming / 64 (``delbench.embed.hashes``). No training; finds re-encoded, slightly
  cropped or re-lit copies, but says nothing about what two unrelated frames share.
- ``ssl``: a small conv encoder trained on the pool itself by SimCLR with near-duplicate views (small
  crops and rotations, flips, blur, brightness and contrast), ``[embed] ssl_steps`` steps at base width
  ``[embed] ssl_width``; its pooled pyramid, standardised like ``pool`` (``delbench.embed.ssl``).
- ``timm:<model>``: any timm model by name, weights from ``[embed] weights`` (a safetensors file or a
  state dict read with ``torch.load(weights_only=True)``) or else the file timm would have downloaded,
  if it is already in the Hugging Face or torch hub cache. Nothing is downloaded: timm is only ever
  handed a local file, so it never asks the hub (whatever ``HF_HUB_OFFLINE`` says). A weights file
  must fill the whole model (``delbench.embed.timm_weights``) unless ``[embed] allow_partial``. Inputs
  are normalised with the mean and std timm resolves for the model (``resolve_model_data_config``),
  at the model's own input size unless ``[embed] image_size`` says otherwise.

The batch size is left out of the cache key: in eval mode every image is embedded on its own, so the
batch changes only speed and memory (``delbench.embed.settings`` picks a memory-safe one by default).
The ``ssl`` embedder's training settings are in it, resolved (0 and the default written out share an
entry).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from delbench.store.atomic import sha256_file
from delbench.store.cache import build_stage, claim_stage, config_hash
from delbench.data.manifest import manifest_sha256, pool_rows, read_manifest
from delbench.embed.settings import embed_batch_size, embed_image_size, ssl_settings
from delbench.errors import DelbenchError
from delbench.progress import Progress, scaled
from delbench.protocol import EMBEDDERS as BUILT_IN

EMBEDDERS = (*BUILT_IN, "timm:<model>")
# 2: batch size out of the key, image size resolved; 3: pool vectors standardised over the pool
CODE_VERSION = 3


def embed_pool(root: Path, protocol: Any, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Embed every pool image of ``root``; return the cached ``embeddings.npy`` (sidecar beside it)."""
    from delbench.embed.vectors import save_embeddings

    root, cache_dir = Path(root), Path(cache_dir)
    emb = protocol.embed
    name = emb.embedder
    weights: Path | None = None
    if name == "pool":
        from delbench.pretrain.stage import pretrain

        res = pretrain(root, protocol, cache_dir, subset=None, seed=protocol.seeds[0],
                       progress=scaled(progress, 0.0, 0.8) if progress else None)
        weights = res.checkpoint
    elif name.startswith("timm:") and emb.weights:
        weights = Path(emb.weights)
        if not weights.is_file():
            raise DelbenchError(f"[embed] weights: file {weights} not found")
    elif name not in BUILT_IN and not name.startswith("timm:"):
        raise DelbenchError(f"[embed] embedder {name!r} is unknown (available: {', '.join(EMBEDDERS)})")
    config = stage_config(root, protocol, weights)
    out = cache_dir / "embed" / config_hash(config)
    path = out / "embeddings.npy"
    with claim_stage(out) as todo:
        if not todo:
            return path
        from delbench.nets.arrays import image_array

        pool = pool_rows(read_manifest(root))
        size = config["embed"]["image_size"]
        images = image_array(root, pool, size, cache_dir)
        meta = {"embedder": name, "manifest_sha256": config["manifest"], "protocol": protocol.name, "image_size": size}
        if name == "thumb":
            vectors = _thumbs(images)
        elif name == "phash":
            from delbench.embed.hashes import hash_vectors

            vectors = hash_vectors(images)
        elif name == "ssl":
            from delbench.embed.ssl import ssl_vectors

            ssl = ssl_settings(protocol)
            vectors, trained = ssl_vectors(images, ssl["ssl_steps"], ssl["ssl_width"], device=protocol.pretrain.device,
                                           progress=scaled(progress, 0.0, 0.95) if progress else None)
            meta.update(**ssl, **trained)
        else:
            vectors, loaded = _network(images, protocol, name, weights, size, progress)
            if name == "pool":
                from delbench.embed.vectors import standardise

                vectors = standardise(vectors)
            meta.update(batch_size=embed_batch_size(protocol, size), **loaded)
        with build_stage(out, config) as tmp:
            save_embeddings(tmp / "embeddings.npy", vectors, meta)
    if progress:
        progress(1.0, f"embedded {len(pool)} images")
    return path


def stage_config(root: Path, protocol: Any, weights: Path | None) -> dict[str, Any]:
    """The embed stage's cache key; ``weights`` are the network's (the ``full`` pre-training for
    ``pool``, ``[embed] weights`` for a timm embedder), None for ``thumb``."""
    emb = protocol.embed
    # Only what changes the vectors: not the batch size, and the input size as resolved, so that
    # image_size = 0 and the model's own size written out share one entry.
    settings = {"embedder": emb.embedder, "weights": emb.weights, "image_size": embed_image_size(protocol)}
    if emb.allow_partial:
        settings["allow_partial"] = True
    if emb.embedder == "ssl":
        settings.update(ssl_settings(protocol))  # resolved, so 0 and the default written out share an entry
    config: dict[str, Any] = {"stage": "embed", "code": CODE_VERSION, "manifest": manifest_sha256(root),
                              "embed": settings}
    if emb.embedder == "pool" and weights is not None:
        config["checkpoint"] = sha256_file(weights)[:16]
        config["net"] = asdict(protocol.network())
    elif emb.embedder.startswith("timm:") and weights is not None:
        config["weights_sha256"] = sha256_file(weights)[:16]
    return config


def embeddings_path(root: Path, protocol: Any, cache_dir: Path, weights: Path | None) -> Path:
    """Where ``embed_pool`` caches the embeddings of ``root`` (whether or not they exist yet)."""
    return Path(cache_dir) / "embed" / config_hash(stage_config(root, protocol, weights)) / "embeddings.npy"


def _thumbs(images: np.ndarray, side: int = 16) -> np.ndarray:
    n, s = images.shape[0], images.shape[1]
    f = max(1, s // side)
    out = np.empty((n, side * side * 3), dtype=np.float32)
    for i in range(0, n, 1024):
        block = np.asarray(images[i:i + 1024, : side * f, : side * f], dtype=np.float32) / 255.0
        block = block.reshape(len(block), side, f, side, f, 3).mean(axis=(2, 4))
        out[i:i + len(block)] = block.reshape(len(block), -1)
    out -= out.mean(axis=0, keepdims=True)
    # A constant pool (or image equal to the mean) still needs a direction to normalise.
    out[np.linalg.norm(out, axis=1) < 1e-8, 0] = 1e-6
    return out


def _network(images: np.ndarray, protocol: Any, name: str, weights: Path | None, size: int,
             progress: Progress | None) -> tuple[np.ndarray, dict[str, Any]]:
    import torch

    from delbench.nets.arrays import to_tensor
    from delbench.nets.runtime import autocast, setup

    dev, _ = setup(protocol.pretrain.device)
    loaded: dict[str, Any] = {}
    if name == "pool":
        from delbench.nets.checkpoint import load_weights
        from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_seg_net, load_matching

        network = protocol.network()
        net = build_seg_net(network, out_channels=3, head=protocol.finetune.head)
        load_matching(net, load_weights(weights))  # type: ignore[arg-type]
        # the normalisation it was pre-trained with, not that of any published weights
        encoder, mean, std = net.encoder, IMAGENET_MEAN, IMAGENET_STD
        fn = _vit_features if network.arch == "vit" else _conv_features
    else:
        encoder, mean, std, share = _timm_model(name[5:], weights, size, protocol.embed.allow_partial)
        loaded["weights_share_loaded"] = share
        fn = _timm_features
    encoder.to(dev).eval()
    batch = embed_batch_size(protocol, size)
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = to_tensor(images[i:i + batch], mean, std).to(dev)
            with autocast(dev):
                outs.append(fn(encoder, x).float().cpu().numpy())
            if progress:
                progress(0.8 + 0.2 * min(1.0, (i + batch) / len(images)), f"embedding {min(i + batch, len(images))}/{len(images)}")
    return np.concatenate(outs).astype(np.float32), loaded


def _conv_features(encoder: Any, x: Any) -> Any:
    import torch

    feats = encoder(x)
    return torch.cat([f.mean(dim=(2, 3)) for f in feats[1:] if f.shape[1] > 3], dim=1)


def _vit_features(vit: Any, x: Any) -> Any:
    tokens = vit.forward_features(x)
    return tokens[:, getattr(vit, "num_prefix_tokens", 1):].mean(dim=1)


def _timm_features(model: Any, x: Any) -> Any:
    out = model(x)
    return out.flatten(1) if out.ndim > 2 else out


def _timm_model(model_name: str, weights: Path | None, size: int,
                allow_partial: bool = False) -> tuple[Any, list[float], list[float], float]:
    import timm

    if model_name not in timm.list_models() and model_name not in timm.list_models(pretrained=True):
        import difflib

        near = difflib.get_close_matches(model_name, timm.list_models(), n=3)
        raise DelbenchError(f"[embed] embedder timm:{model_name}: no such timm model (did you mean {', '.join(near)}?)")
    kwargs: dict[str, Any] = {"num_classes": 0}
    if _fixed_input_size(model_name):
        kwargs["img_size"] = size  # its position embeddings are sized for this input at creation
    if weights is not None:
        if not weights.is_file():
            raise DelbenchError(f"[embed] weights: file {weights} not found")
        from delbench.embed.timm_weights import load_weights_file

        model = timm.create_model(model_name, pretrained=False, **kwargs)
        share = load_weights_file(model, model_name, weights, allow_partial)
    else:
        # An embedder must never start a download mid-benchmark, and timm given pretrained=True asks
        # the hub first even when a file is cached; so find the cached file here and hand timm only that.
        cached = _cached_timm_weights(model_name)
        if cached is None:
            raise DelbenchError(
                f"[embed] embedder timm:{model_name}: no local weights (none in the Hugging Face or torch hub "
                "cache, and delbench never downloads); set [embed] weights to a local .safetensors or state-dict file"
            )
        try:
            model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign cache entry; timm raises several types
            raise DelbenchError(f"[embed] embedder timm:{model_name}: cached weights {cached} do not load ({type(exc).__name__})") from None
        share = 1.0  # timm loads its own files strictly
    from timm.data import resolve_model_data_config

    data = resolve_model_data_config(model)
    return model, list(data["mean"]), list(data["std"]), share


def _fixed_input_size(model_name: str) -> bool:
    """Whether timm says the model only takes the input size it was built for (ViTs, Swin, ...)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    return bool(cfg is not None and cfg.fixed_input_size)


def _cached_timm_weights(model_name: str) -> Path | None:
    """The weight file timm would download for ``model_name``, if it is already on disk; no network."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = cfg.hf_hub_id.partition("@")
        # timm's own preference: the safetensors twin of the named file first, then the file itself.
        name = cfg.hf_hub_filename or "pytorch_model.bin"
        safe = "model.safetensors" if name == "pytorch_model.bin" else name.removesuffix(".bin") + ".safetensors"
        for filename in dict.fromkeys((safe, name)):
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
    if cfg.url:
        from urllib.parse import urlparse

        import torch.hub

        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(cfg.url).path).name
        if path.is_file():
            return path
    return None
