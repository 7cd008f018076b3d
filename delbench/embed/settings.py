"""What an embedder actually runs with once the protocol's zeros ("the embedder's own") are resolved:
the input size, the batch size and the ``ssl`` embedder's training. Resolving needs no model and no
weights, only timm's registry."""
from __future__ import annotations

from typing import Any

# The thumbnail embedder's input size when the protocol leaves it to the embedder.
THUMB_SIZE = 64
PHASH_SIZE = 32  # imagehash's phash works on 32 x 32 grey images (delbench.embed.hashes.SIDE)
# The ssl embedder's: its training costs four times as much at 64 px (about 1.7 CPU-s a step of
# 64 images against 0.36 s at 32 px), which would take it past two minutes on two cores.
SSL_SIZE = 32
# Images per forward pass at 224 px when the protocol leaves the batch to the embedder; scaled by the
# pixel count of the actual input so that activation memory stays about the same (a ViT-B or
# ResNet-50 forward without gradients at 32 x 224 px stays well under 2 GiB).
BATCH_AT_224 = 32
MAX_BATCH = 256


def embed_image_size(protocol: Any) -> int:
    """The side the pool images are resized to for embedding."""
    emb = protocol.embed
    if emb.embedder == "pool":
        return int(protocol.network().image_size)  # what the network was pre-trained at
    if emb.embedder == "phash":
        return PHASH_SIZE
    if emb.embedder == "ssl" and emb.image_size == 0:
        return SSL_SIZE
    if emb.image_size > 0:
        return int(emb.image_size)
    if emb.embedder.startswith("timm:"):
        return timm_input_size(emb.embedder[5:])
    return THUMB_SIZE


def embed_batch_size(protocol: Any, image_size: int) -> int:
    """Images per forward pass: the protocol's, or a memory-safe default for ``image_size``."""
    if protocol.embed.batch_size > 0:
        return int(protocol.embed.batch_size)
    return default_batch(image_size)


def default_batch(image_size: int) -> int:
    scaled = BATCH_AT_224 * (224.0 / max(1, image_size)) ** 2
    return int(min(MAX_BATCH, max(1, round(scaled))))


def timm_input_size(model_name: str) -> int:
    """The input side timm's data config gives the model's default pretrained weights (224 if timm
    knows none). Uses the public ``timm.data.resolve_data_config`` on the pretrained config."""
    from timm.data import resolve_data_config
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        return 224
    size = resolve_data_config(pretrained_cfg=cfg.to_dict())["input_size"]
    return int(size[-1])


def ssl_settings(protocol: Any) -> dict[str, int]:
    """The ``ssl`` embedder's training steps and encoder width, zeros resolved to its own."""
    from delbench.embed import ssl

    emb = protocol.embed
    return {"ssl_steps": int(emb.ssl_steps or ssl.STEPS), "ssl_width": int(emb.ssl_width or ssl.WIDTH)}
