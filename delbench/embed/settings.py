"""What an embedder actually runs with once the protocol's zeros ("the embedder's own") are resolved:
the input size and the batch size. Resolving needs no model and no weights, only timm's registry."""
from __future__ import annotations

from typing import Any

# The thumbnail embedder's input size when the protocol leaves it to the embedder.
THUMB_SIZE = 64
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
