"""The timm embedder never touches the network: no local weights is a one-line error, local ones load.

Each case runs in a fresh interpreter, since what matters is the order in which huggingface_hub is
imported and reads its offline switch, and a test process has usually imported it long ago.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODEL, HUB_REPO = "resnet10t", "timm/resnet10t.c3_in1k"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# Any connection attempt ends the interpreter at once with code 17: hub clients retry for a long time.
_SCRIPT = """
import json, os, socket, sys

def refuse(*args, **kwargs):
    sys.stderr.write(f"network attempt: {args!r}\\n")
    sys.stderr.flush()
    os._exit(17)

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

from pathlib import Path
from delbench.errors import DelbenchError
from delbench.embed.stage import _timm_model

weights = Path(sys.argv[1]) if sys.argv[1] else None
try:
    model, mean, std, _ = _timm_model(sys.argv[2], weights, 32)
except DelbenchError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"conv1": float(model.state_dict()["conv1.0.weight"].double().sum())}))
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A safetensors file of the model's state (classifier included, as a published checkpoint has it)."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model(MODEL, pretrained=False)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "resnet10t.safetensors"
    save_file(state, str(path))
    return path, float(state["conv1.0.weight"].double().sum())


def _run(tmp_path: Path, weights: str, hub_offline: str | None, model: str = MODEL) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "TORCH_HOME"))}
    env.update(HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"), DELBENCH_THREADS="1")
    if hub_offline is not None:
        env["HF_HUB_OFFLINE"] = hub_offline
    res = subprocess.run([sys.executable, "-c", _SCRIPT, weights, model], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 17, f"the embedder tried the network: {res.stderr[-2000:]}"
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


# Unset: the default. "0": a user who turned offline mode off must still get no download from delbench.
@pytest.mark.parametrize("hub_offline", [None, "0"])
def test_no_local_weights_is_one_line_and_no_network(tmp_path: Path, hub_offline: str | None) -> None:
    got = _run(tmp_path, "", hub_offline)
    assert "error" in got, got
    assert "\n" not in got["error"]
    assert f"timm:{MODEL}: no local weights" in got["error"] and "[embed] weights" in got["error"]


def test_explicit_weights_file_loads_offline(tmp_path: Path, reference: tuple[Path, float]) -> None:
    path, conv1 = reference
    got = _run(tmp_path, str(path), None)
    assert got == {"conv1": pytest.approx(conv1)}


def test_missing_explicit_weights_file_is_one_line(tmp_path: Path) -> None:
    got = _run(tmp_path, str(tmp_path / "nope.safetensors"), None)
    assert got["error"] == f"[embed] weights: file {tmp_path / 'nope.safetensors'} not found"


@pytest.mark.parametrize("hub_offline", [None, "0"])
def test_weights_in_the_hub_cache_load_offline(tmp_path: Path, reference: tuple[Path, float], hub_offline: str | None) -> None:
    # The layout huggingface_hub leaves after a download: a snapshot per commit, refs/main naming it.
    repo = tmp_path / "hf" / "hub" / f"models--{HUB_REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    (snapshot / "model.safetensors").symlink_to(reference[0])
    got = _run(tmp_path, "", hub_offline)
    assert got == {"conv1": pytest.approx(reference[1])}


def test_weights_in_the_torch_hub_cache_load_offline(tmp_path: Path, reference: tuple[Path, float]) -> None:
    import torch
    from safetensors.torch import load_file
    from timm.models import get_pretrained_cfg

    url = get_pretrained_cfg(MODEL).url
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(load_file(str(reference[0])), checkpoints / url.rsplit("/", 1)[-1])
    got = _run(tmp_path, "", None)
    assert got == {"conv1": pytest.approx(reference[1])}
