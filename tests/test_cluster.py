"""Units as cluster jobs through submitit, without a cluster: submitit's LocalExecutor runs the jobs as
real subprocesses through the same submission, pickling and collection code as ``--executor slurm``
(``--executor submitit-local``). Its results equal the local pool's bit for bit; a job killed mid-unit
is reported, resubmitted alone and resumes from its checkpoint; ``--dry-run`` writes the sbatch
scripts; no SLURM here is one line."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli

pytestmark = pytest.mark.slow

TINY = Path(__file__).parent / "protocols" / "tiny.toml"
TIMING = ["pretrain_seconds", "select_seconds"]


@pytest.fixture(scope="module")
def protocol(tmp_path_factory) -> Path:
    """tiny with one seed, 108 pre-training steps and a checkpoint every 4: a kill lands mid-unit."""
    text = TINY.read_text()
    for old, new in [('name = "tiny"', 'name = "tiny-jobs"'), ("seeds = [0, 1]", "seeds = [0]"),
                     ("epochs_at_full = 1.0", "epochs_at_full = 12.0"), ("checkpoint_every = 3", "checkpoint_every = 4"),
                     ('names = ["syn-kvasir", "syn-etis"]', 'names = ["syn-kvasir"]')]:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path_factory.mktemp("proto") / "tiny-jobs.toml"
    path.write_text(text)
    return path


def compare(protocol: Path, out: Path, cache: Path, *more: str):
    return CliRunner().invoke(cli, ["compare", "random", "--protocol", str(protocol), "--out", str(out),
                                    "--cache", str(cache), "--no-plots", "--jobs", "1", *more])


@pytest.fixture(scope="module")
def local_results(protocol, tmp_path_factory) -> pd.DataFrame:
    base = tmp_path_factory.mktemp("local")
    result = compare(protocol, base / "run", base / "cache", "--executor", "local")
    assert result.exit_code == 0, result.output
    return pd.read_parquet(base / "run" / "results.parquet").drop(columns=TIMING)


def same(run: Path, expected: pd.DataFrame) -> None:
    got = pd.read_parquet(run / "results.parquet").drop(columns=TIMING)
    key = ["selector", "ratio_target", "seed", "task"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))


def test_jobs_through_submitit_give_the_local_results_bit_for_bit(protocol, local_results, tmp_path, monkeypatch):
    monkeypatch.setenv("DELBENCH_POLL_S", "0.2")
    result = compare(protocol, tmp_path / "run", tmp_path / "cache", "--executor", "submitit-local")
    assert result.exit_code == 0, result.output
    same(tmp_path / "run", local_results)
    jobs = json.loads((tmp_path / "run" / "jobs.json").read_text())["units"]
    assert sorted(jobs) == ["delbench-full-r1-s0", "delbench-random-r0.25-s0", "delbench-scratch-r0-s0"]
    assert {e["state"] for e in jobs.values()} == {"done"}


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry.name))
                        todo.append(int(entry.name))
                except OSError:
                    continue
    return found


def test_a_killed_job_is_reported_then_resubmitted_alone_and_resumes(protocol, local_results, tmp_path, monkeypatch):
    monkeypatch.setenv("DELBENCH_POLL_S", "0.2")
    run, cache = tmp_path / "run", tmp_path / "cache"
    result = compare(protocol, run, cache, "--executor", "submitit-local", "--detach")
    assert result.exit_code == 0, result.output
    assert "submitted" in result.output and "delbench status" in result.output
    first = json.loads((run / "jobs.json").read_text())["units"]
    assert len(first) == 3
    pretrain = cache / "stages" / "pretrain"
    for _ in range(6000):  # until a pre-training has written its first checkpoint
        if list(pretrain.glob("*.work/step_*.json")):
            break
        time.sleep(0.05)
    unfinished = [w for w in pretrain.glob("*.work") if not (pretrain / w.name[:-len(".work")] / "stage.json").exists()]
    for entry in first.values():  # kill -9 every job: its submitit controller and the task under it
        pid = int(entry["job_id"])
        for p in [pid, *descendants(pid)]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert unfinished, "no pre-training was mid-way when the jobs were killed"

    status = CliRunner().invoke(cli, ["status", str(run)])
    assert status.exit_code == 0, status.output
    assert "delbench-random-r0.25-s0" in status.output

    failed = compare(protocol, run, cache, "--executor", "submitit-local")
    assert failed.exit_code == 1
    assert "job(s) failed" in failed.output and "rerun the same command" in failed.output
    after_fail = json.loads((run / "jobs.json").read_text())["units"]
    lost = {name for name, e in after_fail.items() if e["state"] == "failed"}
    assert lost and all(name in failed.output for name in lost)

    again = compare(protocol, run, cache, "--executor", "submitit-local")
    assert again.exit_code == 0, again.output
    final = json.loads((run / "jobs.json").read_text())["units"]
    for name, entry in final.items():  # only the failed units were submitted again
        assert entry["state"] == "done"
        assert (entry["job_id"] != first[name]["job_id"]) == (name in lost), name
    metas = [json.loads((w.parent / w.name[:-len(".work")] / "meta.json").read_text()) for w in unfinished]
    assert any(m["resumed_from"] > 0 for m in metas)  # resumed from the checkpoint, not from step 0
    same(run, local_results)  # and ended exactly where an uninterrupted run does


def test_dry_run_writes_the_sbatch_scripts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DELBENCH_SLURM_ACCOUNT", "lab")
    result = CliRunner().invoke(cli, [
        "compare", "random", "--protocol", "ci", "--seeds", "0", "--ratios", "0.5", "--cache", str(tmp_path / "cache"),
        "--out", "run", "--executor", "slurm", "--dry-run", "--slurm-partition", "gpu", "--slurm-opt", "qos=high",
        "--set", "resources.gpus_per_unit=2", "--set", "resources.mem_gb=80", "--set", "resources.timeout_min=600"])
    assert result.exit_code == 0, result.output
    scripts = sorted((tmp_path / "run" / "jobs" / "dry-run").glob("*.sh"))
    assert [s.name for s in scripts] == ["delbench-full-r1-s0.sh", "delbench-random-r0.5-s0.sh", "delbench-scratch-r0-s0.sh"]
    text = scripts[1].read_text()
    for line in ["#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --qos=high", "#SBATCH --gpus-per-node=2",
                 "#SBATCH --ntasks-per-node=2", "#SBATCH --nodes=1", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=80GB",
                 "#SBATCH --time=600", "#SBATCH --job-name=delbench-random-r0.5-s0", "#SBATCH --signal=USR2@90",
                 "export DELBENCH_THREADS=1", f"export DELBENCH_CACHE={tmp_path / 'cache'}"]:
        assert line in text, line
    folder = tmp_path / "run" / "jobs"
    assert f"-m submitit.core._submit {folder}" in text  # the command: submitit's runner on the job folder
    assert not (tmp_path / "run" / "results.parquet").exists()


def test_no_slurm_here_is_one_line_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    result = CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", "--executor", "slurm",
                                      "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 1
    assert "no SLURM here" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cache" / "data").exists()  # refused before generating anything


def test_bad_cluster_options_are_one_line(tmp_path):
    for args, expected in [(["--executor", "pbs"], "use one of local, slurm"),
                           (["--slurm-opt", "qos"], "KEY=VALUE"), (["--detach"], "--detach needs a cluster")]:
        result = CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", "--dry-run", *args,
                                          "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache")])
        assert result.exit_code != 0 and expected in result.output, (args, result.output)
