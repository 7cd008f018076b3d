"""The kept-subset composition table: shares by source and centre per selector and ratio, beside the
pool's, computed from a run directory's subsets."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from delbench.data.manifest import write_manifest
from delbench.report.composition import composition, kept_composition, pointer, to_markdown, write_composition


def pool() -> pd.DataFrame:
    # 80 mucosa crops from one centre, 20 PolypGen frames from two
    return pd.DataFrame({
        "id": [f"x{i}" for i in range(100)],
        "source": ["mucosa"] * 80 + ["polypgen"] * 20,
        "center": ["a"] * 80 + ["C1"] * 10 + ["C2"] * 10,
    })


def test_shares_by_source_and_centre_average_over_seeds() -> None:
    subsets = {("skewed", 0.1, 0): np.arange(10), ("skewed", 0.1, 1): np.arange(5, 15),  # all mucosa
               ("mixed", 0.1, 0): np.array([0, 1, 2, 3, 4, 5, 80, 81, 90, 91])}
    frame = composition(pool(), subsets)
    got = frame.set_index(["selector", "by", "value"])
    assert got.loc[("skewed", "source", "mucosa"), "kept_share"] == 1.0
    assert got.loc[("skewed", "source", "polypgen"), "kept_share"] == 0.0
    assert got.loc[("skewed", "source", "polypgen"), "pool_share"] == 0.2
    assert got.loc[("skewed", "source", "mucosa"), "seeds"] == 2
    assert got.loc[("mixed", "center", "C2"), "kept_share"] == 0.2 and got.loc[("mixed", "center", "C2"), "kept_n"] == 2
    text = to_markdown(frame)
    assert "### Kept share by source" in text and "### Kept share by centre" in text
    assert "| pool | 1 | – | 80.0 | 20.0 |" in text and "| skewed | 0.1 | 2 | 100.0 | 0.0 |" in text


def test_a_run_directory_gets_its_table_and_pointer(tmp_path: Path) -> None:
    root = tmp_path / "root"
    frame = pool().assign(path=lambda f: "images/" + f["id"] + ".png", role="pool", width=8, height=8)
    write_manifest(root, frame)
    run = tmp_path / "run"
    (run / "subsets" / "sel" / "seed3").mkdir(parents=True)
    np.save(run / "subsets" / "sel" / "seed3" / "r0.2.npy", np.arange(80, 100))
    np.save(run / "subsets" / "sel" / "seed3" / "r1.npy", np.arange(100))  # the whole pool: not a row
    (run / "run.json").write_text(json.dumps({"data_root": str(root)}))
    assert pointer(run) is None
    path = write_composition(run)
    assert path == run / "tables" / "composition.md" and "| sel | 0.2 | 1 | 0.0 | 100.0 |" in path.read_text()
    assert pointer(run) == f"kept subsets by source and centre: {path}"
    assert set(kept_composition(run)["ratio_target"]) == {0.2}
    (run / "run.json").write_text(json.dumps({"data_root": str(tmp_path / "gone")}))
    assert kept_composition(run).empty
