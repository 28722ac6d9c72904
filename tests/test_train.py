"""python -m tinyformer.train: every speed switch gives the plain path's numbers on CPU; DDP ranks agree."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tinyformer.train import TrainConfig, main, train


def run(**changes):
    config = TrainConfig(preset="tiny", steps=6, batch_size=4, lr=3e-3, warmup=2, quiet=True, device="cpu",
                         bf16=False, tf32=False, fused=False, fast_attention=False)
    for key, value in changes.items():
        setattr(config, key, value)
    return train(config)


@pytest.fixture(scope="module")
def plain():
    return run()


def test_training_learns_something(plain):
    assert plain["losses"][-1] < plain["losses"][0]


@pytest.mark.parametrize("switch", ["fast_attention", "fused"])
def test_exact_switches_give_the_plain_numbers(plain, switch):
    other = run(**{switch: True})
    assert other["losses"] == pytest.approx(plain["losses"], abs=1e-4)
    assert other["weights_checksum"] == pytest.approx(plain["weights_checksum"], abs=1e-3)


def test_bf16_autocast_stays_close(plain):
    other = run(bf16=True)
    assert other["losses"] == pytest.approx(plain["losses"], rel=3e-2)


def test_compile_gives_the_plain_numbers(plain):
    other = run(compile=True)
    assert other["losses"] == pytest.approx(plain["losses"], abs=1e-3)


def test_bert_trains_with_masked_language_modelling():
    summary = run(model="bert", steps=8)
    assert all(torch.isfinite(torch.tensor(summary["losses"])))


def test_two_ddp_processes_on_cpu_end_with_the_same_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "tinyformer.train", "--preset", "tiny", "--steps", "4", "--batch-size", "4", "--device", "cpu",
               "--out", str(tmp_path), "--log-every", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["weights_checksum"] == ranks[1]["weights_checksum"]
    assert ranks[0]["losses"] != ranks[1]["losses"]  # each rank saw its own batches
    assert "step     4" in result.stdout and result.stdout.count("tokens/s") == 1  # rank 0 speaks


def test_bad_arguments_get_a_message_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--steps", "0"])
    assert exit.value.code == 2 and "--steps" in capsys.readouterr().err
