"""Selection against planted ground truth: every selector x embedder on a dataset root whose pool
records ``gt_quality`` and ``gt_group``, at the ratio that keeps exactly the distinct clean items.

For each embedder it runs ``delbench embed`` (through a protocol override of ``[embed] embedder``),
then ``delbench select`` for each selector at the root's ideal ratio (or ``--ratio``), and
``delbench subset score``; prints one Markdown row per (selector, embedder) with originals kept,
groups resolved, junk removed and the disruption type removed least, averaged over ``--seeds``.

    python benchmarks/bench_truth.py ROOT --embedders thumb,phash,ssl \\
        --selectors meddel,dedup-only,coreset,random,quality,"quality>meddel"

Selectors that ignore the embeddings (``random``, ``quality``) run once, under the first embedder.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIXEL_ONLY = {"random", "quality", "oracle", "adversary"}


def delbench(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "delbench.cli", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"delbench {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--embedders", default="thumb")
    ap.add_argument("--selectors", default="meddel,dedup-only,coreset,random,quality,quality>meddel")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--ratio", type=float, default=None, help="default: the root's ideal ratio")
    ap.add_argument("--protocol", default="smoke")
    ap.add_argument("--set", action="append", default=[], help="extra protocol overrides for embedding")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--param", action="append", default=[], help="SELECTOR.KEY=VALUE")
    args = ap.parse_args()

    from delbench.data.manifest import manifest_path, pool_rows, read_manifest
    from delbench.select.truth import ideal_ratio

    root = args.root.resolve()
    ratio = args.ratio or round(ideal_ratio(pool_rows(read_manifest(root))), 6)
    seeds = [s for s in args.seeds.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="bench-truth-"))
    cache = args.cache or work / "cache"
    print(f"root {root}, ratio {ratio:g}, seeds {','.join(seeds)}\n")
    print("| selector | embedder | originals kept | groups resolved | junk removed | least removed type | wall s |")
    print("|---|---|---|---|---|---|---|")
    done_pixel: set[str] = set()
    epsilon_rows: list[str] = []
    for embedder in [e for e in args.embedders.split(",") if e]:
        start = time.perf_counter()
        sets = [x for s in [f"embed.embedder={embedder}", *args.set] for x in ("--set", s)]
        emb = delbench("embed", str(root), "--protocol", args.protocol, "--cache", str(cache), *sets).strip().splitlines()[-1]
        print(f"<!-- {embedder}: embedded in {time.perf_counter() - start:.1f} s -->", file=sys.stderr)
        for selector in [s for s in args.selectors.split(",") if s]:
            if selector in PIXEL_ONLY and selector in done_pixel:
                continue
            params = [x for p in args.param if p.startswith(selector + ".") for x in ("--param", p[len(selector) + 1:])]
            scores, seconds = [], []
            for seed in seeds:
                out = work / embedder / selector.replace(">", "_then_") / f"seed{seed}" / f"r{ratio:g}.npy"
                start = time.perf_counter()
                delbench("select", selector, "--embeddings", emb, "--ratio", repr(ratio), "--seed", seed,
                         "--pool", str(manifest_path(root)), "--out", str(out), *params)
                seconds.append(time.perf_counter() - start)
                scores.append(json.loads(delbench("subset", "score", str(out), "--root", str(root), "--format", "json"))[0])
                info = json.loads(out.with_suffix(".json").read_text()).get("info", {})
                if selector == "meddel" and seed == seeds[0]:
                    epsilon_rows.append(f"| `{embedder}` | {info.get('max_centroid_distance', float('nan')):.3f} | "
                                        f"{info.get('outliers_at_epsilon')} | {info.get('k')} |")
            mean = {k: sum(s[k] for s in scores) / len(scores) for k in ("originals_kept", "groups_resolved", "junk_removed")}
            types = {t: sum(s["junk_removed_by_type"][t] for s in scores) / len(scores)
                     for t in scores[0]["junk_removed_by_type"]}
            least = min(types, key=types.get) if types else None
            shown = "(pixels)" if selector in PIXEL_ONLY else f"`{embedder}`"
            print(f"| `{selector}` | {shown} | {mean['originals_kept']:.2f} | {mean['groups_resolved']:.2f} | "
                  f"{mean['junk_removed']:.2f} | {f'{least} {types[least]:.2f}' if least else '-'} | "
                  f"{sum(seconds) / len(seconds):.1f} |", flush=True)
            if selector in PIXEL_ONLY:
                done_pixel.add(selector)
    if epsilon_rows:
        print("\nMedDEL's outlier step (epsilon = 0.9, cosine distance to the item's centroid):\n")
        print("| embedder | farthest item from its centroid | outliers at epsilon | k |")
        print("|---|---|---|---|")
        print("\n".join(epsilon_rows))


if __name__ == "__main__":
    main()
