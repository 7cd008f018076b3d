"""``verify`` re-hashes and re-checks a root and names every bad file, and only those."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from delbench.cli import cli
from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest, write_manifest
from delbench.data.verify import verify

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import mask, pairs  # noqa: E402


@pytest.fixture
def root(tmp_path: Path) -> Path:
    src = tmp_path / "CVC-ClinicDB" / "PNG"
    pairs(src / "Original", src / "Ground Truth", [str(i) for i in range(1, 7)], ".png")
    import_dataset("cvc-clinicdb", tmp_path / "CVC-ClinicDB", tmp_path / "root")
    return tmp_path / "root"


def rows(root: Path) -> list[dict]:
    return read_manifest(root).to_dict("records")


def test_clean_root_verifies(root: Path) -> None:
    assert verify(root) == []


def test_flipped_byte_names_exactly_that_file(root: Path) -> None:
    target = rows(root)[2]["path"]
    data = bytearray((root / target).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / target).write_bytes(bytes(data))
    problems = verify(root)
    assert problems and {p.file for p in problems} == {target}
    assert any(p.kind == "hash" for p in problems)


def test_every_problem_is_reported(root: Path) -> None:
    r = rows(root)
    (root / r[0]["path"]).unlink()
    mask(root / r[1]["mask_path"], 0, size=(10, 10))
    ramp = np.tile(np.arange(40, dtype=np.uint8) * 6, (32, 1))
    Image.fromarray(ramp, mode="L").save(root / r[2]["mask_path"])
    problems = verify(root)
    kinds = {(p.file, p.kind) for p in problems}
    assert (r[0]["path"], "missing") in kinds
    assert (r[1]["mask_path"], "mask-size") in kinds and (r[1]["mask_path"], "hash") in kinds
    assert (r[2]["mask_path"], "non-binary-mask") in kinds
    assert {p.file for p in problems} == {r[0]["path"], r[1]["mask_path"], r[2]["mask_path"]}


def test_manifest_breaches_are_reported(root: Path) -> None:
    frame = read_manifest(root)
    frame.loc[0, "width"] = 999
    write_manifest(root, frame)
    problems = verify(root)
    assert [(p.file, p.kind) for p in problems] == [(frame.loc[0, "path"], "size")]


def test_cli_lists_problems_and_exits_non_zero(root: Path) -> None:
    target = rows(root)[0]["path"]
    (root / target).write_bytes(b"oops")
    res = CliRunner().invoke(cli, ["data", "verify", str(root)])
    assert res.exit_code != 0
    assert target in res.output and "problem(s) in 1 file(s)" in res.output
