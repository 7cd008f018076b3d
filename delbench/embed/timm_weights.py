"""Loading a local weights file into a timm model, refusing a file that does not fit it.

``load_state_dict(strict=False)`` reports missing keys, but a file whose keys were all renamed still
"loads" without error and leaves the model randomly initialised. So the share of the model's values
the file actually provides (same key, same shape, counted in elements) is measured first, and below
100% the file is refused unless the embedder was told ``allow_partial``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError

# Buffers that count steps rather than hold a learned value: a file without them is still complete.
_COUNTERS = ("num_batches_tracked",)


def read_state(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file or of a ``torch.save``d state dict (never unpickled objects)."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch and safetensors raise several types for a bad file
        raise DelbenchError(f"[embed] weights {path}: not a readable safetensors or state-dict file "
                            f"({type(exc).__name__}); point [embed] weights at a model's weights") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):  # common training-checkpoint wrappers
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise DelbenchError(f"[embed] weights {path}: holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def adapt(state: dict[str, Any], model: Any) -> dict[str, Any]:
    """Apply the model family's own checkpoint filter, as timm does for its pretrained files: it maps
    original (non-timm) key names and resamples position embeddings to the model's input size."""
    filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    if filter_fn is None:
        return state
    try:
        return dict(filter_fn(state, model))
    except Exception:  # noqa: BLE001 - a foreign file the filter cannot read; measured as it is below
        return state


def loaded_share(model: Any, state: dict[str, Any]) -> tuple[float, list[str]]:
    """The share of the model's values (in elements) that ``state`` provides, and the keys it lacks."""
    target = {k: v for k, v in model.state_dict().items() if not k.endswith(_COUNTERS)}
    total = sum(v.numel() for v in target.values())
    missing = [k for k, v in target.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
    lacking = sum(target[k].numel() for k in missing)
    return (1.0 - lacking / total) if total else 1.0, missing


def load_weights_file(model: Any, model_name: str, path: Path, allow_partial: bool) -> float:
    """Load ``path`` into ``model``; return the share loaded. Refuse one that is not complete unless
    ``allow_partial``; keys the model lacks (a classifier head dropped by ``num_classes=0``) are ignored."""
    state = adapt(read_state(path), model)
    share, missing = loaded_share(model, state)
    if share < 1.0 and not allow_partial:
        some = ", ".join(missing[:3]) + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        raise DelbenchError(
            f"[embed] weights {path}: only {share:.1%} of timm model {model_name}'s parameters load from it "
            f"(missing or of another shape: {some}); use the weights of {model_name}, or set "
            "[embed] allow_partial = true to embed with the rest left randomly initialised"
        )
    wanted = model.state_dict()
    usable = {k: v for k, v in state.items() if k in wanted and tuple(v.shape) == tuple(wanted[k].shape)}
    model.load_state_dict(usable, strict=not allow_partial and share >= 1.0 and _complete(wanted, usable))
    return share


def _complete(wanted: dict[str, Any], usable: dict[str, Any]) -> bool:
    # strict loading also demands the step counters; a file without them is complete all the same
    return all(k in usable for k in wanted)
