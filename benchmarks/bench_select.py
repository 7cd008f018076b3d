"""Selector speed and memory on clustered synthetic embeddings, next to the bounds of this machine.

For each N it writes a clustered, L2-normalised float32 [N, D] matrix with near-duplicates, then runs
every selector in its own subprocess (so peak RSS is that selector's alone)
and prints the median seconds of ``--repeats`` runs (wall, and ``cpu s``: CPU seconds of all the
child's threads, which a load from other processes inflates less) and the peak RSS, beside:

* ``meddel`` / ``dedup-only``: the k-means training + assignment + within-cluster GEMM FLOPs
  (balanced clusters: N^2 / k * D multiply-adds for the lower triangles) divided by a measured GEMM
  speed;
* ``prototypes``: the same k-means training and assignment, without the within-cluster GEMMs;
* ``hkmeans``: level 1's k-means training and assignment once plus once per resampling step (the
  levels above cluster at most a thousand centroids);
* ``coreset``: one pass over the embeddings per chosen centre divided by a measured bandwidth
  (the time of one float32 matrix-vector product over the matrix).

``--frames N`` also times the pixel-level ``quality`` on N synthetic 64 x 64 frames held in memory
(decoding is not part of it), in seconds and milliseconds a frame.

Peak RSS is the child's VmHWM (``ru_maxrss`` from ``os.wait4`` where /proc is missing: on Linux it
starts from the parent's RSS at fork and can overstate). It includes the interpreter and libraries;
``+select GB`` is the growth over the RSS right after the matrix was loaded, i.e. what the selector
itself added.

    python benchmarks/bench_select.py --n 100000 --repeats 3
    python benchmarks/bench_select.py --n 1000000 --selectors meddel,dedup-only --repeats 1
    python benchmarks/bench_select.py --frames 20000 --repeats 3      # quality alone

A selector package that is not installed runs with ``--plugin MODULE`` (and the module on
PYTHONPATH): ``PYTHONPATH=plugins python benchmarks/bench_select.py --plugin delbench_hkmeans
--selectors hkmeans``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_matrix(path: Path, n: int, d: int, seed: int = 0, clusters: int = 2000, dup_fraction: float = 0.2) -> None:
    """Write the synthetic matrix in row blocks, so generating 1M x 768 needs one copy of it at most."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    n_dup = int(dup_fraction * n)
    n_base = n - n_dup
    block = 65536
    for s in range(0, n_base, block):
        e = min(s + block, n_base)
        x = centres[rng.integers(0, clusters, e - s)] + 0.9 * rng.standard_normal((e - s, d), dtype=np.float32)
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    for s in range(n_base, n, block):
        e = min(s + block, n)
        src = np.sort(rng.integers(0, n_base, e - s))
        x = out[src] + 0.02 * rng.standard_normal((e - s, d), dtype=np.float32)
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    del out


def gemm_gflops(repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 768), dtype=np.float32)
    b = rng.standard_normal((768, 4096), dtype=np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 4096 * 4096 * 768 * repeats / (time.perf_counter() - t) / 1e9


def pass_seconds(x: np.ndarray, repeats: int = 20) -> float:
    """Median time of one float32 GEMV over ``x``: one read of the matrix from memory."""
    c = np.array(x[0])
    out = np.empty(x.shape[0], dtype=np.float32)
    np.dot(x, c, out=out)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.dot(x, c, out=out)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


# Resampling steps of hkmeans at its defaults (each one more k-means and assignment at level 1).
HKMEANS_STEPS = 5
PIXEL_SELECTORS = ("quality",)


def kmeans_flops(n: int, d: int, k: int, niter: int = 20, train_per_centroid: int = 64, pairs: bool = True) -> float:
    """k-means training on the capped sample, one assignment pass and (``pairs``) the within-cluster GEMMs."""
    n_train = min(n, k * train_per_centroid)
    return 2.0 * n_train * k * d * niter + 2.0 * n * k * d + ((n * n / k) * d if pairs else 0.0)


def bound_seconds(name: str, n: int, d: int, k: int, gflops: float) -> float:
    """The compute bound of an embedding selector at its default parameters (NaN where there is none)."""
    if name in ("meddel", "dedup-only"):
        flops = kmeans_flops(n, d, k)
    elif name == "prototypes":
        flops = kmeans_flops(n, d, k, pairs=False)
    elif name == "hkmeans":
        flops = (1 + HKMEANS_STEPS) * kmeans_flops(n, d, min(k, max(1, n // 4)), pairs=False)
    else:
        return float("nan")
    return flops / (gflops * 1e9)


def synthetic_frames(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` colour frames [n, size, size, 3] uint8: blocky shading plus sensor noise, made in batches."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    cell = size // 8
    for s in range(0, n, 1024):
        e = min(n, s + 1024)
        coarse = rng.uniform(30, 220, (e - s, 8, 8, 3)).astype(np.float32)
        img = np.repeat(np.repeat(coarse, cell, axis=1), cell, axis=2)
        img += rng.normal(0, 4, img.shape).astype(np.float32)
        out[s:e] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def bench_pixels(n: int, repeats: int, ratio: float, plugins: list[str]) -> None:
    """Median seconds of ``quality`` over ``n`` in-memory 64 x 64 frames (no decoding)."""
    from delbench.plugin.manager import get_plugins
    from delbench.selection import SelectionRequest, run_selector

    t = time.perf_counter()
    frames = synthetic_frames(n)
    made = time.perf_counter() - t

    def load(indices):
        for i in indices:
            yield frames[int(i)]

    emb = np.zeros((n, 4), dtype=np.float32)
    emb[:, 0] = 1.0
    print(f"\n## {n} frames of 64 x 64 x 3 in memory ({frames.nbytes / 1e9:.2f} GB, made in {made:.0f} s)")
    print(f"{'selector':28s} {'median s':>9s} {'ms/frame':>9s}  runs")
    with _plugins_loaded(plugins):
        for name in PIXEL_SELECTORS:
            times = []
            for _ in range(repeats):
                sel = get_plugins().selectors.get(name).create()
                t = time.perf_counter()
                run_selector(sel, SelectionRequest(ratio=ratio, seed=0, embeddings=emb, load_images=load))
                times.append(time.perf_counter() - t)
            med = float(np.median(times))
            runs = ", ".join(f"{x:.2f}" for x in times)
            print(f"{name + f' R={ratio:g}':28s} {med:9.2f} {med / n * 1e3:9.3f}  {runs}", flush=True)


def _plugins_loaded(modules: list[str]):
    """Register plugin modules named on the command line, beside (and shadowing) the installed ones."""
    import contextlib
    import importlib

    from delbench.plugin.hookspecs import hookimpl
    from delbench.plugin.manager import temporary_plugin

    class Proxy:  # a separate object: the installed entry point may have registered the module itself
        def __init__(self, module):
            self.module = module

        @hookimpl
        def delbench_register_selectors(self, register):
            self.module.delbench_register_selectors(register)

    stack = contextlib.ExitStack()
    for name in modules:
        stack.enter_context(temporary_plugin(Proxy(importlib.import_module(name)), name=f"bench-{name}", replace=True))
    return stack


def child(args: argparse.Namespace) -> None:
    """Run one selector ``repeats`` times on the matrix and print one JSON line."""
    from delbench.plugin.manager import get_plugins
    from delbench.selection import SelectionRequest, run_selector

    x = np.load(args.matrix, allow_pickle=False)  # in anonymous memory, like load_embeddings' copy
    x.flags.writeable = False
    loaded_gb = _proc_status_gb("VmRSS")
    load_peak_gb = _proc_status_gb("VmHWM")
    try:  # reset the high-water mark, so what follows is the selector's own peak
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    params = json.loads(args.params)
    times, cpu, info = [], [], {}
    with _plugins_loaded(args.plugin):
        entry = get_plugins().selectors.get(args.selector)
        for _ in range(args.repeats):
            sel = entry.create(**params)
            t, c = time.perf_counter(), time.process_time()
            ans = run_selector(sel, SelectionRequest(ratio=args.ratio, seed=0, embeddings=x), ratios=[args.ratio])
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            info = ans[args.ratio].info
    peak = max(load_peak_gb, _proc_status_gb("VmHWM"))
    print(json.dumps({"times": times, "cpu": cpu, "info": info, "loaded_gb": loaded_gb, "peak_gb": peak}, default=str))


def _proc_status_gb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in GB; NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return float("nan")


def run_child(matrix: Path, selector: str, params: dict, ratio: float, repeats: int, plugins: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--child", "--matrix", str(matrix), "--selector", selector,
           "--params", json.dumps(params), "--ratio", str(ratio), "--repeats", str(repeats)]
    cmd += [a for m in plugins for a in ("--plugin", m)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}"}
    res = json.loads(out.strip().splitlines()[-1])
    # A child's ru_maxrss starts from the parent's RSS at fork time on Linux, so it can overstate the
    # child's own peak; the child's VmHWM (peak of its own address space) is exact where available.
    rusage_gb = usage.ru_maxrss * 1024 / 1e9
    res["peak_rss_gb"] = res["peak_gb"] if res.get("peak_gb") == res.get("peak_gb") else rusage_gb
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="pool size (repeatable; default 100000 and 1000000)")
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--selectors", default="random,meddel,dedup-only,coreset")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ratio", type=float, default=0.05)
    ap.add_argument("--coreset-ratio", type=float, default=None,
                    help="ratio for coreset (default --ratio; exact greedy to 5%% of 100k is 5000 matrix passes)")
    ap.add_argument("--coreset-max-n", type=int, default=100_000,
                    help="run coreset only up to this N (exact greedy costs one matrix pass per centre)")
    ap.add_argument("--approx-dim", type=int, default=128, help="also run coreset with approx_dim (0: skip)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write the matrices (default: a temp dir)")
    ap.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                    help="a plugin module to load besides the installed ones (repeatable; shadows an installed name)")
    ap.add_argument("--frames", type=int, default=0,
                    help="also time the pixel-level selectors on this many in-memory 64 x 64 frames; alone "
                         "when no --n is given")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--matrix", help=argparse.SUPPRESS)
    ap.add_argument("--selector", help=argparse.SUPPRESS)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return
    sizes = args.n or ([] if args.frames else [100_000, 1_000_000])
    names = [s.strip() for s in args.selectors.split(",") if s.strip() and s.strip() not in PIXEL_SELECTORS]
    gflops = gemm_gflops()
    print(f"# {os.cpu_count()} CPUs, GEMM {gflops:.0f} GFLOP/s (float32), ratio {args.ratio:g}, repeats {args.repeats}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.frames:
        bench_pixels(args.frames, args.repeats, args.ratio, args.plugin)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for n in sizes:
            path = Path(tmp) / f"emb_{n}.npy"
            t = time.perf_counter()
            make_matrix(path, n, args.d)
            x = np.load(path, mmap_mode="r")
            matrix_gb = n * args.d * 4 / 1e9
            one_pass = pass_seconds(np.asarray(x[: min(n, 200_000)])) * n / min(n, 200_000)
            bw = n * args.d * 4 / one_pass / 1e9
            del x
            k = int(min(max(1, round(math.sqrt(n))), 1000, n))
            c_ratio = args.coreset_ratio or args.ratio
            centres = max(1, round(c_ratio * n))
            print(f"\n## N={n} D={args.d}: matrix {matrix_gb:.2f} GB (made in {time.perf_counter() - t:.0f} s), "
                  f"one pass {one_pass * 1e3:.1f} ms ({bw:.1f} GB/s), k={k}")
            print(f"{'selector':28s} {'median s':>9s} {'bound s':>8s} {'x bound':>8s} {'peak RSS GB':>12s} {'x matrix':>9s} {'+select GB':>10s} {'cpu s':>7s}  info")
            runs = []
            for name in names:
                if name == "coreset":
                    if n > args.coreset_max_n:
                        print(f"{'coreset':28s} {'skipped':>9s} {centres * one_pass:8.1f}  (bound: {centres} passes; raise --coreset-max-n to run)")
                        continue
                    runs.append(("coreset", {}, centres * one_pass, c_ratio))
                    if args.approx_dim:
                        frac = args.approx_dim / args.d
                        runs.append((f"coreset approx_dim={args.approx_dim}", {"approx_dim": args.approx_dim},
                                     centres * one_pass * frac, c_ratio))
                else:
                    runs.append((name, {}, bound_seconds(name, n, args.d, k, gflops), args.ratio))
            for label, params, bound, ratio in runs:
                name = label.split()[0]
                label = f"{label} R={ratio:g}"
                res = run_child(path, name, params, ratio, args.repeats, args.plugin)
                if "error" in res:
                    print(f"{label:28s} {res['error']}")
                    continue
                med = float(np.median(res["times"]))
                cpu = float(np.median(res["cpu"]))
                keep = {k_: v for k_, v in res["info"].items() if k_ in ("k", "eta", "threshold", "removed_outlier",
                                                                      "removed_duplicate", "covering_radius", "mode",
                                                                      "distance_threshold", "top_cap")}
                ratio_b = med / bound if bound == bound else float("nan")
                print(f"{label:28s} {med:9.2f} {bound:8.2f} {ratio_b:8.2f} {res['peak_rss_gb']:12.2f} "
                      f"{res['peak_rss_gb'] / matrix_gb:9.2f} {res['peak_rss_gb'] - res['loaded_gb']:10.2f} {cpu:7.2f}  "
                      f"{json.dumps(keep, default=str)} runs {', '.join(f'{x:.2f}' for x in res['times'])}",
                      flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
