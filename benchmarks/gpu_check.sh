#!/usr/bin/env bash
# The GPU checks of the paper path, in under 14 minutes on one CUDA GPU:
#   1. pre-training throughput of the paper protocol (MAE ViT-B/16, 224 px, bf16, channels-last);
#   2. one short `small`-sized unit end to end on CUDA (select, pre-train, fine-tune, score);
#   3. an interrupted pre-training resumed from its checkpoint ends bitwise equal to an uninterrupted one;
#   4. the first validity question no CPU protocol answers (docs/protocols.md, "Validity"): does a
#      deeper protocol clear the precondition (`full` beats `scratch` by >= 10 points) and the ladder
#      (oracle > random > adversary at R = 0.05 and 0.2)? `small` at its own scale, 3 seeds; a run cut
#      off by its timeout keeps its finished stages, so the same command with the same WORK_DIR continues.
# Usage: bash benchmarks/gpu_check.sh [WORK_DIR]   (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-$(mktemp -d -t delbench-gpu-XXXX)}"
PY="${PYTHON:-python}"
export DELBENCH_CACHE="$WORK/cache" DELBENCH_THREADS="${DELBENCH_THREADS:-1}"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device')"

echo "== 1/4 throughput: paper protocol, ViT-B/16 MAE at 224 px (target >= 1,500 images/s on an H100-class GPU)"
timeout 180 "$PY" benchmarks/bench_pretrain.py --protocol paper --device cuda --steps 20

echo "== 2/4 one small-sized unit on CUDA"
timeout 240 "$PY" -m delbench.cli compare random --protocol small --set pretrain.device=cuda --set pretrain.max_steps=300 \
  --seeds 0 --ratios 0.5 --tasks syn-kvasir --jobs 1 --no-plots --out "$WORK/run-small"

echo "== 3/4 resume: stopped at step 100 and resumed == uninterrupted, bit for bit"
timeout 120 "$PY" - "$WORK" <<'PY'
import sys
from pathlib import Path

from safetensors.torch import load_file

from delbench.compare.runner import synthetic_root
from delbench.compare.plan import CompareConfig
from delbench.pretrain.stage import pretrain
from delbench.protocol import load_protocol

work = Path(sys.argv[1])
p = load_protocol("small").with_overrides({"pretrain.device": "cuda", "pretrain.max_steps": 200,
                                           "pretrain.checkpoint_every": 50})
root = synthetic_root(CompareConfig(selectors=("random",), protocol=p, cache=work / "cache"))
whole = pretrain(root, p, work / "resume-a", subset=None, seed=0)
pretrain(root, p, work / "resume-b", subset=None, seed=0, stop_after=100)
resumed = pretrain(root, p, work / "resume-b", subset=None, seed=0)
a, b = load_file(str(whole.checkpoint)), load_file(str(resumed.checkpoint))
same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
print(f"resumed from step {resumed.meta['resumed_from']}: bitwise equal: {'yes' if same else 'NO'}")
sys.exit(0 if same else 1)
PY
echo "== 4/4 validity of a deeper protocol: small on CUDA, precondition and ladder (exit 1 = it does not rank data)"
timeout 360 "$PY" -m delbench.cli validate --protocol small --set pretrain.device=cuda --set pretrain.max_steps=600 \
  --seeds 0,1,2 --jobs 1 --no-plots --out "$WORK/validate-small" || echo "validate: small does not pass (see the tables above)"
echo "gpu_check: done ($WORK)"
