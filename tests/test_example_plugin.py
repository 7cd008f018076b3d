"""The example external plugin, examples/delbench-example-selector, works as an installed package.

It is "installed" by putting a ``*.dist-info`` with its entry point on the path — what pip writes,
minus the copy — so the test is fast, needs no network and leaves the environment untouched. One slow
test does a real ``pip install`` into a temporary directory.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from delbench.plugin import manager as plugins
from delbench.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "delbench-example-selector"
NAME = "quality-random"
PACKAGE = "delbench-example-selector"


def example_version() -> str:
    return re.search(r'^version = "([^"]+)"', (EXAMPLE / "pyproject.toml").read_text(), re.M).group(1)


def fake_install(site: Path) -> list[str]:
    """Write the dist-info pip would write for the example (editable-style); return the paths to add."""
    section = (EXAMPLE / "pyproject.toml").read_text().split("[project.entry-points.delbench]", 1)[1].split("\n[", 1)[0]
    # TOML `name = "module"` lines become entry_points.txt `name = module` lines.
    entry_points = re.findall(r'^\s*([\w.-]+)\s*=\s*"([^"]+)"', section, re.M)
    dist = site / f"delbench_example_selector-{example_version()}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {example_version()}\n")
    (dist / "entry_points.txt").write_text("[delbench]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points))
    return [str(site), str(EXAMPLE)]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example visible to this process and to subprocesses; returns the subprocess environment."""
    paths = fake_install(tmp_path / "site")
    for p in reversed(paths):
        monkeypatch.syspath_prepend(p)
    plugins.reset()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONDONTWRITEBYTECODE": "1"}
    yield env
    sys.modules.pop("delbench_quality_random", None)
    plugins.reset()


def test_plugins_lists_it(installed) -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    listed = {s["name"]: s for s in payload["selectors"]}
    assert listed[NAME]["package"] == PACKAGE and listed[NAME]["version"] == example_version()
    assert listed[NAME]["params"]["blur_threshold"] == 0.4
    assert {p["name"]: p["hooks"] for p in payload["plugins"]}[NAME] == ["delbench_register_selectors"]


def _scene(seed: int, size: int = 48):
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(80, 160, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(8):
        x, y = rng.integers(0, size, 2)
        s = int(rng.integers(4, 16))
        draw.ellipse([int(x), int(y), int(x) + s, int(y) + s], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    noisy = np.asarray(im, dtype=np.float64) + rng.normal(0, 4, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write_pool(root: Path) -> dict[str, list[int]]:
    """24 PNGs under root/pool + manifest.parquet (with two task rows to skip); returns planted defects."""
    import pandas as pd
    from PIL import Image, ImageFilter

    from delbench.embed.vectors import save_embeddings

    defects = {"blur": [1, 7, 13], "dark": [3, 17], "bright": [9], "low-information": [20]}
    kind = {i: k for k, idx in defects.items() for i in idx}
    (root / "pool").mkdir(parents=True)
    rows = []
    for i in range(24):
        im = _scene(i)
        if kind.get(i) == "blur":
            im = im.filter(ImageFilter.GaussianBlur(3))
        elif kind.get(i) == "dark":
            im = Image.fromarray((np.asarray(im) * 0.1).astype(np.uint8))
        elif kind.get(i) == "bright":
            im = Image.fromarray((255 - (255 - np.asarray(im).astype(int)) * 0.05).astype(np.uint8))
        elif kind.get(i) == "low-information":
            im = Image.new("RGB", im.size, (128, 90, 90))
        im.save(root / "pool" / f"{i:03d}.png")
        rows.append({"id": f"p{i:03d}", "path": f"pool/{i:03d}.png", "role": "pool"})
    rows[2:2] = [{"id": f"t{j}", "path": "pool/000.png", "role": "task"} for j in range(2)]
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet", index=False)
    emb = np.random.default_rng(0).standard_normal((24, 8)).astype(np.float32)
    save_embeddings(root / "emb.npy", emb, {"embedder": "test"})
    return defects


def test_select_drops_planted_defects_from_real_pngs(installed, tmp_path: Path) -> None:
    import pandas as pd

    from delbench.select.subset import read_subset, subset_paths

    defects = write_pool(tmp_path / "data")
    out = tmp_path / "sub" / "subset.npy"
    args = ["select", NAME, "--embeddings", str(tmp_path / "data" / "emb.npy"), "--pool",
            str(tmp_path / "data" / "manifest.parquet"), "--ratio", "0.5", "--seed", "1", "--out", str(out),
            "--param", "dark_threshold=0.2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    kept, meta = read_subset(out)
    planted = sorted(i for idx in defects.values() for i in idx)
    assert len(kept) == 12 and not set(planted) & set(kept.tolist())
    assert meta["ratio_achieved"] == 0.5 and meta["package"] == PACKAGE and meta["plugin_version"] == example_version()
    assert meta["params"]["dark_threshold"] == 0.2 and meta["info"]["flagged"] == len(planted)
    reasons = pd.read_parquet(subset_paths(out)[2])
    got = {r: sorted(g["index"].tolist()) for r, g in reasons.groupby("reason")}
    assert got == {**defects, "sampled-out": got["sampled-out"]} and len(got["sampled-out"]) == 12 - len(planted)

    again = tmp_path / "sub" / "again.npy"
    assert CliRunner().invoke(cli, [*args[:-3], str(again), *args[-2:]]).exit_code == 0
    assert np.array_equal(read_subset(again)[0], kept)


def test_select_without_pool_says_what_to_pass(installed, tmp_path: Path) -> None:
    write_pool(tmp_path / "data")
    result = CliRunner().invoke(cli, ["select", NAME, "--embeddings", str(tmp_path / "data" / "emb.npy"),
                                      "--ratio", "0.5", "--out", str(tmp_path / "s.npy")])
    assert result.exit_code != 0 and "--pool manifest.parquet" in result.output


def test_its_own_test_suite_passes(installed) -> None:
    # What its README says to run, in a fresh interpreter that sees the package only as installed.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=EXAMPLE, env=installed, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_real_pip_install(tmp_path: Path) -> None:
    # Built from a copy, so the build leaves no egg-info or build/ in the repository.
    src = shutil.copytree(EXAMPLE, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    target = tmp_path / "target"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--target", str(target), str(src)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "No module named pip" in proc.stderr:
        pytest.skip("pip is not available in this environment")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1"}
    listed = subprocess.run([sys.executable, "-c", "from delbench.cli import main; main()", "plugins", "--json"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    selectors = {s["name"]: s for s in json.loads(listed.stdout)["selectors"]}
    assert selectors[NAME]["package"] == PACKAGE


# ---------------------------------------------------------------------------------------------------
# Through `delbench compare`: the last step of docs/writing-a-selector.md.
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("delbench.cli.compare_cmd") is None, reason="needs delbench compare")
def test_compare_runs_the_example(installed, tmp_path: Path) -> None:
    run = tmp_path / "run"
    # `delbench compare mine meddel` from the guide, on the pipeline-test protocol to stay short.
    cmd = [sys.executable, "-c", "from delbench.cli import main; main()", "compare", NAME, "meddel",
           "--protocol", str(Path(__file__).parent / "protocols" / "tiny.toml"), "--ratios", "0.5", "--seeds", "0", "--out", str(run), "--no-plots",
           "--param", f"{NAME}.blur_threshold=0.5"]
    env = {**installed, "DELBENCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    import pandas as pd

    results = pd.read_parquet(run / "results.parquet")
    assert {NAME, "meddel"} <= set(results["selector"])
    assert set(results.loc[results["selector"] == NAME, "ratio_target"]) == {0.5}
