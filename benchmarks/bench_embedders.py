"""How well each embedder places planted near-duplicates, on a pool with ground truth.

Reads a planted root (``delbench data plant``: ``gt_quality``, ``gt_group``, ``gt_copy_of``), embeds
its pool with each embedder named (through the embed stage and its cache) and prints, per embedder:

* ``copy cos``: median cosine between a copy and its original;
* ``distinct cos``: median cosine between random pairs of distinct clean originals (other groups);
* ``copy NN``: the share of copies whose nearest neighbour (itself left out) is in their own group;
* ``to centroid``: median cosine distance of an item to its spherical k-means centroid (k = sqrt(N),
  as ``meddel`` clusters), and ``p90`` its 90th percentile: the spread a selector's thresholds act on;
* ``seconds``: the embed stage's wall time (cold unless the cache already holds the entry).

    python benchmarks/bench_embedders.py ROOT --protocol smoke --embedders thumb,pool,phash,ssl --cache /tmp/c
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np


def measure(emb: np.ndarray, pool: Any, seed: int = 0, pairs: int = 20000) -> dict[str, float]:
    from delbench.select.similarity import assign, spherical_kmeans

    ids = pool["id"].astype(str).tolist()
    where = {v: i for i, v in enumerate(ids)}
    group = pool["gt_group"].to_numpy()
    copy_of = pool["gt_copy_of"].astype(object).where(pool["gt_copy_of"].notna(), None).tolist()
    copies = [(i, where[c]) for i, c in enumerate(copy_of) if c is not None]
    originals = np.array(sorted({o for _, o in copies} | {i for i, c in enumerate(copy_of)
                                 if c is None and pool["gt_quality"].iloc[i] == "clean"}))
    copy_cos = np.array([float(emb[c] @ emb[o]) for c, o in copies])
    rng = np.random.default_rng(seed)
    a, b = rng.choice(originals, pairs), rng.choice(originals, pairs)
    keep = group[a] != group[b]
    distinct = np.einsum("ij,ij->i", emb[a[keep]], emb[b[keep]])
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    nn = np.argmax(sim, axis=1)
    hit = np.mean([group[nn[c]] == group[c] for c, _ in copies])
    _, to_c = assign(emb, spherical_kmeans(emb, seed=seed))
    dist = 1.0 - to_c
    return {"copy cos": float(np.median(copy_cos)), "distinct cos": float(np.median(distinct)),
            "copy NN": float(hit), "to centroid": float(np.median(dist)), "p90": float(np.quantile(dist, 0.9))}


def main() -> None:
    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings
    from delbench.protocol import load_protocol

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--protocol", default="smoke")
    ap.add_argument("--embedders", default="thumb,pool,phash,ssl")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--set", action="append", default=[], help="extra protocol override section.key=value")
    args = ap.parse_args()
    pool = pool_rows(read_manifest(args.root)).reset_index(drop=True)
    base = load_protocol(args.protocol)
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = int(value) if value.lstrip("-").isdigit() else value
    print(f"{args.root}: {len(pool)} pool frames, {int(pool['gt_copy_of'].notna().sum())} copies")
    print("| embedder | D | copy cos | distinct cos | copy NN | to centroid | p90 | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.embedders.split(","):
        proto = base.with_overrides({"embed.embedder": name, **extra})
        t0 = time.perf_counter()
        emb = np.asarray(load_embeddings(embed_pool(args.root, proto, args.cache / "stages")))
        secs = time.perf_counter() - t0
        m = measure(emb, pool)
        print(f"| `{name}` | {emb.shape[1]} | {m['copy cos']:.3f} | {m['distinct cos']:.3f} | {m['copy NN']:.2f} "
              f"| {m['to centroid']:.3f} | {m['p90']:.3f} | {secs:.0f} |", flush=True)


if __name__ == "__main__":
    main()
