"""The instrument search: does an encoder learned from a subset, read by a fixed read-out, rank the
subsets `validate` ranks (oracle > random > adversary), and does it clear the precondition (`full`
beats `scratch` by >= 10 points)?

Encoders (``--encoder``):
- ``dict``: Coates, Lee and Ng (2011): P x P colour patches, each brightness/contrast normalised, ZCA
  whitened, a spherical k-means dictionary of K atoms (faiss) on a fixed number of patches from the
  subset (the same for every subset: equal compute), triangle encoding, average pooling at 1, 5 and
  17 px for context. ``scratch`` = K random unit atoms in the normalised patch space, no whitening
  (nothing measured on the pool). ``--layer2`` adds a second k-means over the pooled codes.
- ``ssl:PROTOCOL``: the protocol's own pre-training (cached by the harness) read as its encoder
  pyramid; ``scratch`` = the same network at random initialisation.
Every arm also has ``pixels``: RGB pooled at the same scales, through the same read-outs.

Read-outs (both on per-channel standardised features of ``--labels`` labelled train images):
- ``proto``: cosine to the foreground and background mean feature, threshold chosen on val;
- ``ridge``: ridge regression on 20,000 labelled pixels, lambda and threshold chosen on val.
The test split is only scored. The subsets come from the registered ``oracle``, ``random`` and
``adversary`` selectors, the ladder and the precondition from ``delbench.score.validate.judge``
(seed-paired task-mean test mIoU, one-sided 95% t lower bound; the seed is the unit).

    python benchmarks/search_instrument.py ROOT --encoder dict --out runs/search-dict.jsonl
    python benchmarks/search_instrument.py ROOT --encoder ssl:smoke --size 32 --out runs/search-ssl.jsonl
    python benchmarks/search_instrument.py --summary runs/search-dict.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

CONTEXT = (1, 5, 17)
LAMBDAS = (1e-1, 1e0, 1e1, 1e2, 1e3, 1e4)
Encoder = Callable[[torch.Tensor], torch.Tensor]  # [N, 3, S, S] in 0..255 -> [N, C, S, S]


def reference_subsets(pool: Any, ratios: tuple[float, ...], seed: int) -> dict[tuple[str, float], np.ndarray]:
    from delbench.plugin.manager import get_plugins
    from delbench.select.contract import SelectionRequest, run_selector

    request = SelectionRequest(ratio=ratios[0], seed=seed, embeddings=np.zeros((len(pool), 1), np.float32), pool=pool)
    out = {}
    for name in ("oracle", "random", "adversary"):
        selector = get_plugins().selectors.get(name).create()
        for r, sel in run_selector(selector, request, ratios=ratios).items():
            out[(name, r)] = np.sort(sel.indices)
    return out


def context(f: torch.Tensor, scales: tuple[int, ...] = CONTEXT) -> torch.Tensor:
    return torch.cat([f if k == 1 else F.avg_pool2d(f, k, 1, k // 2, count_include_pad=False) for k in scales], 1)


def normalised_patches(x: torch.Tensor, p: int) -> torch.Tensor:
    u = F.unfold(x, p).transpose(1, 2)
    u = u - u.mean(-1, keepdim=True)
    return u / torch.sqrt(u.var(-1, keepdim=True) + 10.0)


def kmeans(z: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    import faiss

    km = faiss.Kmeans(z.shape[1], k, niter=20, spherical=True, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(z.numpy(), dtype=np.float32))
    return torch.from_numpy(km.centroids.copy())


def triangle(u: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    dist = torch.sqrt(((u * u).sum(-1, keepdim=True) - 2 * u @ atoms.T + (atoms * atoms).sum(-1)).clamp_min(0))
    return (dist.mean(-1, keepdim=True) - dist).clamp_min(0)


def dictionary(images: np.ndarray | None, a: argparse.Namespace, seed: int) -> Encoder:
    """A learned dictionary from ``images`` ([N, S, S, 3] uint8), or random atoms when None."""
    p, d = a.patch, 3 * a.patch * a.patch
    g = torch.Generator().manual_seed(seed)
    if images is None:
        mu, white = torch.zeros(d), torch.eye(d)
        atoms = F.normalize(torch.randn(a.K, d, generator=g), dim=1)
    else:
        n, s = images.shape[0], images.shape[1]
        which = torch.randint(0, n, (a.patches,), generator=g)
        ys, xs = torch.randint(0, s - p + 1, (2, a.patches), generator=g)
        arr = torch.from_numpy(np.ascontiguousarray(images)).float()
        pats = torch.stack([arr[which, ys + i, xs + j] for i in range(p) for j in range(p)], 1)
        pats = pats.permute(0, 2, 1).reshape(a.patches, d)  # channel-major, as unfold orders a patch
        pats = (pats - pats.mean(-1, keepdim=True)) / torch.sqrt(pats.var(-1, keepdim=True) + 10.0)
        mu = pats.mean(0)
        e, v = torch.linalg.eigh(torch.cov((pats - mu).T))
        white = v @ torch.diag(1.0 / torch.sqrt(e.clamp_min(0) + 0.1)) @ v.T
        atoms = kmeans((pats - mu) @ white, a.K, seed)
    lo, hi = (p - 1) // 2, p - 1 - (p - 1) // 2

    def encode(x: torch.Tensor) -> torch.Tensor:
        n, s = x.shape[0], x.shape[-1]
        f = triangle((normalised_patches(x, p) - mu) @ white, atoms)
        f = f.transpose(1, 2).reshape(n, -1, s - p + 1, s - p + 1)
        return context(F.pad(f, (lo, hi, lo, hi), mode="replicate"))

    return encode


def second_layer(first: Encoder, images: np.ndarray | None, k: int, seed: int) -> Encoder:
    """k-means over the first layer's pooled codes of 256 images (random atoms when None)."""
    g = torch.Generator().manual_seed(seed + 7)
    if images is None:
        probe = first(torch.zeros(1, 3, 32, 32))
        m, s = torch.zeros(probe.shape[1]), torch.ones(probe.shape[1])
        atoms = F.normalize(torch.randn(k, probe.shape[1], generator=g), dim=1)
    else:
        pick = np.sort(torch.randint(0, len(images), (256,), generator=g).numpy())
        v = features(first, images[pick]).permute(0, 2, 3, 1).reshape(-1, probe_dim(first))
        v = v[torch.randperm(v.shape[0], generator=g)[:50000]]
        m, s = v.mean(0), v.std(0) + 1e-6
        atoms = kmeans(F.normalize((v - m) / s, dim=1), k, seed)

    def encode(x: torch.Tensor) -> torch.Tensor:
        z = F.normalize((first(x).permute(0, 2, 3, 1) - m) / s, dim=-1)
        return context(triangle(z, atoms).permute(0, 3, 1, 2), (1, 9))

    return encode


def probe_dim(enc: Encoder) -> int:
    return int(enc(torch.zeros(1, 3, 32, 32)).shape[1])


def ssl_encoder(root: Path, protocol: Any, cache: Path, subset: np.ndarray | None, seed: int, pretrained: bool) -> Encoder:
    from safetensors.torch import load_file

    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_seg_net, load_matching
    from delbench.pretrain.stage import pretrain

    torch.manual_seed(seed)
    net = build_seg_net(protocol.network(), out_channels=1, head="pyramid")
    if pretrained:
        load_matching(net, load_file(str(pretrain(root, protocol, cache, subset=subset, seed=seed).checkpoint)))
    net.eval()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def encode(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net.features((x / 255.0 - mean) / std)

    return encode


def pixels(x: torch.Tensor) -> torch.Tensor:
    return context(x / 255.0)


def tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, copy=True)).permute(0, 3, 1, 2).float()


def features(enc: Encoder, images: np.ndarray) -> torch.Tensor:
    return torch.cat([enc(tensor(images[i:i + 16])) for i in range(0, len(images), 16)])


def miou(pred: np.ndarray, mask: np.ndarray) -> float:
    """Foreground IoU per image with a polyp, averaged (the harness's mIoU)."""
    inter, union = (pred & mask).sum((1, 2)), (pred | mask).sum((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    has = mask.sum((1, 2)) > 0
    return float(iou[has].mean() if has.any() else iou.mean())


def read_out(enc: Encoder, split: dict[str, tuple[np.ndarray, np.ndarray]], labels: int, seed: int, task: str) -> dict[str, float]:
    from delbench.evaluate.finetune import labelled_subset

    xs, ys = split["train"]
    chosen = labelled_subset(len(xs), labels, seed, task)
    f = features(enc, xs[chosen])
    c = f.shape[1]
    x = f.permute(0, 2, 3, 1).reshape(-1, c)
    y = torch.from_numpy(np.array(ys[chosen], copy=True)).reshape(-1).float()
    m, s = x.mean(0), x.std(0) + 1e-6
    z = (x - m) / s
    zn = F.normalize(z, dim=1)
    fg, bg = F.normalize(zn[y > 0.5].mean(0), dim=0), F.normalize(zn[y <= 0.5].mean(0), dim=0)
    pick = torch.randperm(z.shape[0], generator=torch.Generator().manual_seed(seed))[:20000]
    a = torch.cat([z[pick], torch.ones(len(pick), 1)], 1).double()
    ata, atb = a.T @ a, a.T @ y[pick].double()
    w = torch.stack([torch.linalg.solve(ata + lam * torch.eye(c + 1, dtype=a.dtype), atb) for lam in LAMBDAS], 1).float()

    def scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        proto, ridge = [], []
        for i in range(0, len(images), 16):
            q = (enc(tensor(images[i:i + 16])).permute(0, 2, 3, 1) - m) / s
            qn = F.normalize(q, dim=-1)
            proto.append((qn @ fg - qn @ bg).numpy())
            ridge.append((q @ w[:-1] + w[-1]).numpy())
        return np.concatenate(proto), np.concatenate(ridge)

    (pv, rv), (pt, rt) = scores(split["val"][0]), scores(split["test"][0])
    mv, mt = np.asarray(split["val"][1]) > 0, np.asarray(split["test"][1]) > 0
    cut = max(thresholds(pv), key=lambda t: miou(pv > t, mv))
    # the ridge's threshold too is chosen on val: regressed to {0, 1} with few polyp pixels, its
    # outputs rarely pass 0.5, which would score weak features as nothing
    j, rcut = max(((j, t) for j in range(len(LAMBDAS)) for t in thresholds(rv[..., j])),
                  key=lambda jt: miou(rv[..., jt[0]] > jt[1], mv))
    return {"proto": miou(pt > cut, mt), "ridge": miou(rt[..., j] > rcut, mt)}


def thresholds(scores: np.ndarray) -> np.ndarray:
    return np.quantile(scores, np.linspace(0.5, 0.99, 50))


def run(a: argparse.Namespace) -> None:
    from delbench.data.manifest import pool_rows, read_manifest, task_rows
    from delbench.nets.arrays import image_array
    from delbench.protocol import load_protocol

    root, cache = Path(a.root), Path(a.cache)
    manifest = read_manifest(root)
    pool = pool_rows(manifest)
    images = image_array(root, pool, a.size, cache)
    tasks = sorted(t for t in manifest["task"].dropna().unique() if t not in a.exclude.split(","))
    data = {t: {sp: (image_array(root, task_rows(manifest, t, sp), a.size, cache),
                     image_array(root, task_rows(manifest, t, sp), a.size, cache, column="mask_path"))
                for sp in ("train", "val", "test")} for t in tasks}
    protocol = None
    if a.encoder.startswith("ssl:"):
        overrides = dict(kv.split("=", 1) for kv in a.set)
        protocol = load_protocol(a.encoder[4:]).with_overrides({k: json.loads(v) for k, v in overrides.items()})
    ratios = (0.05, 0.2)
    with open(a.out, "a") as out:
        for seed in a.seeds:
            subsets = reference_subsets(pool, ratios, seed)
            arms: list[tuple[str, float, np.ndarray | None, bool]] = [("pixels", 1.0, None, False), ("scratch", 1.0, None, False),
                                                                      ("full", 1.0, None, True)]
            arms += [(name, r, subsets[(name, r)], True) for r in ratios for name in ("oracle", "random", "adversary")]
            for name, ratio, subset, learned in (arm for arm in arms if arm[0] in a.arms):
                t0 = time.perf_counter()
                if name == "pixels":
                    enc: Encoder = pixels
                elif protocol is not None:
                    enc = ssl_encoder(root, protocol, cache, subset, seed, learned)
                else:
                    seen = (images if subset is None else images[subset]) if learned else None
                    enc = dictionary(seen, a, seed)
                    if a.layer2:
                        enc = second_layer(enc, seen, a.K2, seed)
                for task in tasks:
                    for readout, miou_test in read_out(enc, data[task], a.labels, seed, task).items():
                        out.write(json.dumps({"selector": name, "ratio_target": ratio, "seed": seed, "task": task,
                                              "readout": readout, "miou": miou_test, "encoder": a.encoder}) + "\n")
                out.flush()
                print(f"{name} R={ratio:g} seed {seed}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def summary(paths: list[str]) -> None:
    import pandas as pd

    from delbench.score.stats import seed_paired
    from delbench.score.validate import judge

    rows = pd.DataFrame([json.loads(line) for p in paths for line in open(p) if line.strip()])
    for (encoder, readout), part in rows.groupby(["encoder", "readout"]):
        v = judge(part)
        print(f"{encoder} / {readout}, seeds {sorted(int(s) for s in part['seed'].unique())}")
        for r in v.rungs:
            print(f"  {r.a} - {r.b} at R={r.ratio:g}: {100 * r.mean:+.1f} (lower {100 * r.lower:+.1f})")
        for a_, b_ in (("full", "scratch"), ("full", "pixels"), ("scratch", "pixels")):
            d = seed_paired(part, a_, b_, 1.0)
            print(f"  {a_} - {b_}: {100 * d.mean:+.1f} (lower {100 * d.lower:+.1f})")
        means = part.groupby(["selector", "ratio_target", "seed"])["miou"].mean().groupby(level=[0, 1]).mean()
        print("  task-mean mIoU x100: " + ", ".join(f"{s}@{r:g} {100 * m:.1f}" for (s, r), m in means.items()))
        print(f"  ladder and precondition pass: {v.passed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?")
    ap.add_argument("--summary", nargs="+", metavar="JSONL", help="print the ladders of finished runs")
    ap.add_argument("--encoder", default="dict", help="dict or ssl:PROTOCOL")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override of the ssl protocol")
    ap.add_argument("--size", type=int, default=64, help="image size of pool and tasks (ssl: the protocol's)")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--labels", type=int, default=8)
    ap.add_argument("--patch", type=int, default=6)
    ap.add_argument("--K", type=int, default=128)
    ap.add_argument("--patches", type=int, default=50000)
    ap.add_argument("--layer2", action="store_true")
    ap.add_argument("--K2", type=int, default=64)
    ap.add_argument("--arms", type=lambda s: s.split(","), default=["pixels", "scratch", "full", "oracle", "random", "adversary"],
                    help="comma-separated arms to run (pixels, scratch, full: the precondition alone)")
    ap.add_argument("--exclude", default="syn-etis", help="comma-separated tasks left out (dead at this size)")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "delbench"))
    ap.add_argument("--out", default="search.jsonl", help="JSONL appended to, one line per (arm, seed, task, read-out)")
    a = ap.parse_args()
    if a.summary:
        summary(a.summary)
    elif a.root:
        torch.set_num_threads(2)
        run(a)
    else:
        ap.error("give ROOT to run, or --summary JSONL")


if __name__ == "__main__":
    main()
