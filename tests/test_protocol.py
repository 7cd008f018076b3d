from __future__ import annotations

from pathlib import Path

import pytest

from delbench.errors import DelbenchError
from delbench.protocol import PROTOCOL_DIR, list_protocols, load_protocol


def test_presets_load() -> None:
    assert {"ci", "smoke", "small", "paper"} <= set(list_protocols())
    for name in list_protocols():
        p = load_protocol(name)
        assert p.name == name and p.version >= 1
        assert len(p.hash()) == 16


def test_paper_preset_is_the_papers_recipe() -> None:
    pt = load_protocol("paper").pretrain
    assert (pt.objective, pt.encoder, pt.image_size, pt.batch_size, pt.lr, pt.epochs_at_full) == (
        "mae", "vit_base_patch16_224", 224, 16, 1.5e-4, 200.0)
    assert load_protocol("paper").finetune.head == "mlp"


def _write(tmp_path: Path, text: str) -> Path:
    base = (PROTOCOL_DIR / "ci.toml").read_text()
    path = tmp_path / "p.toml"
    path.write_text(base + text)
    return path


def test_unknown_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\n[pretrain]\nlearning_rate = 1.0\n')
    with pytest.raises(DelbenchError, match=r"\[pretrain\]\.learning_rate: unknown key"):
        load_protocol(path)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\nepochs = 3\n')
    with pytest.raises(DelbenchError, match="unknown key 'epochs'"):
        load_protocol(path)


@pytest.mark.parametrize("section, text, key", [
    ("pretrain", "lr = 'fast'", r"\[pretrain\]\.lr"),
    ("pretrain", "objective = 'simclr'", r"\[pretrain\] objective"),
    ("pretrain", "mask_ratio = 1.5", r"\[pretrain\] mask_ratio"),
    ("finetune", "head = 'mlp'", r"\[finetune\] head"),
    ("select", "ratios = [0.0, 1.0]", r"\[select\] ratios"),
    ("score", "alpha = -1", r"\[score\] alpha"),
])
def test_invalid_value_names_key(tmp_path: Path, section: str, text: str, key: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'name = "x"\nversion = 1\n[{section}]\n{text}\n')
    with pytest.raises(DelbenchError, match=key):
        load_protocol(path)


def test_missing_version(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\n')
    with pytest.raises(DelbenchError, match="version"):
        load_protocol(path)


def test_unknown_name_lists_available() -> None:
    with pytest.raises(DelbenchError, match="available: .*ci"):
        load_protocol("nope")


def test_overrides_validate_and_change_hash() -> None:
    p = load_protocol("ci")
    q = p.with_overrides({"pretrain.lr": 1e-3})
    assert q.pretrain.lr == 1e-3 and q.hash() != p.hash()
    assert p.with_overrides({}).hash() == p.hash()
    with pytest.raises(DelbenchError, match="pretrain.nope"):
        p.with_overrides({"pretrain.nope": 1})


def test_equal_compute_steps_do_not_depend_on_ratio() -> None:
    p = load_protocol("paper")
    # The paper's table: 88,282 images, batch 16, 200 epochs at 100% -> the same steps at every ratio.
    assert p.pretrain_steps(88_282) == 1_103_525
    for name in list_protocols():
        q = load_protocol(name)
        assert q.pretrain_steps(1000) == q.pretrain_steps(1000)  # a function of N_pool only, not of R


def test_cli_lists_protocols() -> None:
    from click.testing import CliRunner

    from delbench.cli import cli

    res = CliRunner().invoke(cli, ["protocols"])
    assert res.exit_code == 0, res.output
    for name in ("ci", "smoke", "small", "paper"):
        assert name in res.output
    assert "budget" in res.output


def test_head_must_fit_arch(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\n[pretrain]\narch = "vit"\nencoder = "vit_tiny_patch16_224"\n'
                    'objective = "mae"\n[finetune]\nhead = "hypercolumn"\n')
    with pytest.raises(DelbenchError, match=r"\[finetune\] head .*for arch 'vit'"):
        load_protocol(path)
    path.write_text('name = "x"\nversion = 1\n[pretrain]\nobjective = "mae"\n')
    with pytest.raises(DelbenchError, match="'mae' needs arch = 'vit'"):
        load_protocol(path)


def test_tasks_exclude_leaves_a_task_out_of_every_task_unless_asked(tmp_path):
    import pandas as pd

    from delbench.protocol import from_dict, load_protocol
    from delbench.evaluate.stage import resolve_tasks

    raw = load_protocol("ci").to_dict()
    raw["tasks"]["exclude"] = ["b", "not-in-this-root"]
    proto = from_dict(raw)
    frame = pd.DataFrame({"role": ["task"] * 3 + ["pool"], "task": ["a", "b", "c", None]})
    assert resolve_tasks(frame, proto, None, tmp_path) == ["a", "c"]
    assert resolve_tasks(frame, proto, ["b"], tmp_path) == ["b"]
    assert resolve_tasks(frame, load_protocol("ci"), None, tmp_path) == ["a", "b", "c"]


def test_late_keys_count_in_the_hash_only_when_set() -> None:
    # hashes published before a key existed must not move; setting the key must move them
    from delbench.protocol import LATE_KEYS

    p = load_protocol("ci")
    raw = p.to_dict()
    for section, key, unset in LATE_KEYS:
        assert raw[section][key] == unset
    from delbench.store.cache import config_hash

    trimmed = {s: ({k: v for k, v in sec.items() if (s, k) not in {(a, b) for a, b, _ in LATE_KEYS}}
                   if isinstance(sec, dict) else sec) for s, sec in raw.items() if s != "resources"}
    assert p.hash() == config_hash(trimmed)
    assert p.with_overrides({"finetune.standardize": True}).hash() != p.hash()
    assert p.with_overrides({"finetune.head": "pyramid", "finetune.probe_levels": [2, 3]}).hash() != p.hash()


@pytest.mark.parametrize("text, match", [
    ('[finetune]\nmode = "full"\nstandardize = true\n', r"\[finetune\] standardize"),
    ('[finetune]\nhead = "hypercolumn"\nmode = "probe"\nprobe_levels = [1]\n', r"\[finetune\] probe_levels"),
    ('[finetune]\nhead = "pyramid"\nmode = "probe"\nprobe_levels = [4]\n', r"\[finetune\] probe_levels"),
])
def test_probe_options_are_checked(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\n' + text)
    with pytest.raises(DelbenchError, match=match):
        load_protocol(path)


def test_resources_are_not_part_of_the_hash(tmp_path: Path) -> None:
    # Where a unit runs never changes its scores: the hash (run directories, baselines) must not move.
    p = load_protocol("paper")
    q = p.with_overrides({"resources.gpus_per_unit": 4, "resources.mem_gb": 200, "resources.timeout_min": 60})
    assert q.resources.gpus_per_unit == 4 and q.hash() == p.hash()
    assert "resources" in q.to_dict()  # still recorded in run.json
    ci = load_protocol("ci")  # a protocol without the section gets the defaults, and its old hash
    assert ci.resources.gpus_per_unit == 1
    text = (Path(ci.source)).read_text() + "\n[resources]\ngpus_per_unit = 2\n"
    (tmp_path / "ci2.toml").write_text(text)
    assert load_protocol(tmp_path / "ci2.toml").hash() == ci.hash()
    assert ci.with_overrides({"pretrain.lr": 1e-3}).hash() != ci.hash()
    with pytest.raises(DelbenchError, match=r"\[resources\] gpus_per_unit"):
        p.with_overrides({"resources.gpus_per_unit": 0})
