"""Training checkpoints without pickle: tensors (model, optimiser state, RNG) in safetensors, the rest
(step, optimiser hyper-parameters) in a JSON sidecar. Both are written atomically."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from delbench.store.atomic import atomic_path, write_json


def save_weights(path: Path, state: dict[str, torch.Tensor], meta: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta or {})


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def save_training(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int) -> None:
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for key, val in st.items():
            tensors[f"opt/{idx}/{key}"] = val if torch.is_tensor(val) else torch.tensor(val)
    tensors["rng/torch"] = torch.get_rng_state()
    save_weights(path.with_suffix(".safetensors"), tensors)
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    write_json(path.with_suffix(".json"), {"step": step, "param_groups": groups})


def load_training(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
    tensors = load_weights(path.with_suffix(".safetensors"))
    side = json.loads(path.with_suffix(".json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("opt/"):
            _, idx, key = k.split("/", 2)
            state.setdefault(int(idx), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": side["param_groups"]})
    torch.set_rng_state(tensors["rng/torch"])
    return int(side["step"])


def latest(work: Path) -> Path | None:
    """The newest complete checkpoint (its sidecar is written last, so a sidecar means complete)."""
    done = sorted(work.glob("step_*.json"))
    for side in reversed(done):
        if side.with_suffix(".safetensors").is_file():
            return side.with_suffix("")
    return None
