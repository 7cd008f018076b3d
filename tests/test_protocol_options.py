"""Every command that runs a protocol takes the same --protocol/--set, and a --set reaches the
Protocol object the stages receive, hence its hash."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.protocol import load_protocol

COMMANDS = ["compare", "validate", "regress", "embed", "pretrain", "evaluate"]


def _option(name: str, param: str) -> dict[str, Any]:
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    found = [p for p in command.params if p.name == param]
    assert found, f"{name} has no {param}"
    return {"opts": found[0].opts, "help": found[0].help, "multiple": found[0].multiple}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_protocol_command_takes_the_same_options(name: str) -> None:
    assert _option(name, "overrides") == _option("compare", "overrides")
    assert _option(name, "protocol")["help"] == _option("compare", "protocol")["help"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_bad_override_is_refused_by_every_command(name: str, tmp_path: Path) -> None:
    args = {"compare": ["random"], "embed": [str(tmp_path)], "pretrain": [str(tmp_path)], "evaluate": [str(tmp_path)]}
    result = CliRunner().invoke(cli, [name, *args.get(name, []), "--set", "pretrain.nosuch=1"])
    assert result.exit_code != 0
    assert "override 'pretrain.nosuch': no such protocol key" in result.output


@pytest.mark.parametrize("name, module, function", [
    ("embed", "delbench.embed.stage", "embed_pool"),
    ("pretrain", "delbench.pretrain.stage", "pretrain"),
    ("evaluate", "delbench.evaluate.stage", "evaluate"),
])
def test_the_stage_receives_the_overridden_protocol(name: str, module: str, function: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    seen: list[Any] = []

    class Stop(Exception):
        pass

    def fake(root: Any, protocol: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(protocol)
        raise Stop

    monkeypatch.setattr(importlib.import_module(module), function, fake)
    CliRunner().invoke(cli, [name, str(tmp_path), "--protocol", "ci", "--set", "finetune.steps=7",
                             "--set", "embed.batch_size=5"])
    assert len(seen) == 1
    base = load_protocol("ci")
    assert seen[0].finetune.steps == 7 and seen[0].embed.batch_size == 5
    assert seen[0].hash() == base.with_overrides({"finetune.steps": 7, "embed.batch_size": 5}).hash() != base.hash()


def test_compare_units_get_the_protocol_object(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What compare hands its units is the overridden Protocol itself, not a name to reload."""
    from delbench.compare import runner

    seen: list[Any] = []

    def fake_check(config: Any) -> Any:
        seen.append(config.protocol)
        raise runner.DelbenchError("stop here")

    monkeypatch.setattr("delbench.compare.plan.check_config", fake_check)
    result = CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", "--set", "pretrain.lr=0.01",
                                      "--out", str(tmp_path / "run")])
    assert "stop here" in result.output
    assert seen and seen[0].pretrain.lr == 0.01 and seen[0].name == "ci"
