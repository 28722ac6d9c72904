"""python -m tinyformer.train: every speed switch gives the plain path's numbers on CPU; DDP ranks agree; every
config field is an option; the losses stay on the device between log steps; MFU uses the right GPU's peak."""

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import typing

import pytest
import torch

from tinyformer.train import PRESETS, TrainConfig, build_model, main, parse_args, peak_flops, train


def run(**changes):
    config = TrainConfig(
        preset="tiny",
        steps=6,
        batch_size=4,
        lr=3e-3,
        warmup=2,
        quiet=True,
        device="cpu",
        bf16=False,
        tf32=False,
        fused=False,
        fast_attention=False,
    )
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
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "tinyformer.train",
        "--preset",
        "tiny",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
        "--log-every",
        "2",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["weights_checksum"] == ranks[1]["weights_checksum"]
    assert ranks[0]["losses"] != ranks[1]["losses"]  # each rank saw its own batches
    assert "step     4" in result.stdout and result.stdout.count("tokens/s") == 1  # rank 0 speaks


@pytest.mark.parametrize(
    "arguments", [["--steps", "0"], ["--context", "1"], ["--log-every", "0"], ["--dropout", "1"], ["--warmup", "-1"]]
)
def test_bad_arguments_get_a_message_not_a_traceback(capsys, arguments):
    with pytest.raises(SystemExit) as exit:
        main(arguments)
    assert exit.value.code == 2 and arguments[0] in capsys.readouterr().err


# ---- the command line: one option per TrainConfig field

HINTS = typing.get_type_hints(TrainConfig)
WORDS = {"model": "bert", "preset": "tiny", "data": "random", "device": "cpu", "out": "runs/a"}  # str fields


def other_value(field: dataclasses.Field) -> tuple[object, list[str]]:
    """A value of the field other than its default, and the command-line arguments that ask for it."""
    flag, kinds = "--" + field.name.replace("_", "-"), {HINTS[field.name], *typing.get_args(HINTS[field.name])}
    if bool in kinds:
        return (True, [flag]) if not field.default else (False, ["--no-" + flag[2:]])
    if field.name in WORDS:
        return WORDS[field.name], [flag, WORDS[field.name]]
    if int in kinds:
        return (field.default or 1) + 3, [flag, str((field.default or 1) + 3)]
    if float in kinds:
        value = 0.2 if field.default != 0.2 else 0.3
        return value, [flag, str(value)]
    raise AssertionError(f"no example value for {field.name}: {HINTS[field.name]}")


def test_no_arguments_give_the_default_config():
    assert parse_args([]) == TrainConfig()


@pytest.mark.parametrize("field", dataclasses.fields(TrainConfig), ids=lambda field: field.name)
def test_every_config_field_is_a_command_line_option(field):
    value, arguments = other_value(field)
    assert parse_args(arguments) == dataclasses.replace(TrainConfig(), **{field.name: value}), arguments


def test_the_options_that_were_there_before_still_parse():
    config = parse_args(
        [
            "--model",
            "bert",
            "--preset",
            "tiny",
            "--data",
            "random",
            "--steps",
            "4",
            "--batch-size",
            "2",
            "--context",
            "8",
            "--lr",
            "0.01",
            "--device",
            "cpu",
            "--no-bf16",
            "--tf32",
            "--no-fused",
            "--no-fast-attention",
            "--compile",
            "--seed",
            "3",
            "--log-every",
            "2",
            "--out",
            "runs",
        ]
    )
    assert config == TrainConfig(
        model="bert",
        preset="tiny",
        data="random",
        steps=4,
        batch_size=2,
        context=8,
        lr=0.01,
        device="cpu",
        bf16=False,
        tf32=True,
        fused=False,
        fast_attention=False,
        compile=True,
        seed=3,
        log_every=2,
        out="runs",
    )
    assert parse_args(["--bf16"]).bf16 is True and parse_args([]).bf16 is None and parse_args([]).context is None


# ---- presets, the peak FLOPs behind MFU, the summary


def test_presets_are_named_shapes():
    assert dataclasses.asdict(PRESETS["gpt2-124m"]) == {
        "d_model": 768,
        "n_heads": 12,
        "n_layers": 12,
        "context": 1024,
        "vocab_size": 50304,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["tiny"].d_model = 64
    tiny = PRESETS["tiny"]
    model = build_model(TrainConfig(preset="tiny", dropout=0.1), vocab_size=50)
    assert (model.config.d_model, model.config.n_heads, model.config.n_layers, model.config.max_len) == (
        tiny.d_model,
        tiny.n_heads,
        tiny.n_layers,
        tiny.context,
    )
    assert model.config.d_ff == 4 * tiny.d_model and model.config.dropout == 0.1
    assert build_model(TrainConfig(preset="tiny", context=8), vocab_size=50).config.max_len == 8


@pytest.mark.parametrize(
    "name, peak",
    [
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA A100 80GB PCIe", 312e12),
        ("NVIDIA L4", 121e12),
        ("NVIDIA L40S", 362e12),
        ("NVIDIA A10", 125e12),
        ("NVIDIA L40", None),
        ("NVIDIA A10G", None),
        ("NVIDIA GeForce RTX 4090", None),
        ("Tesla V100-SXM2-16GB", None),
    ],
)
def test_the_peak_flops_are_the_named_gpus_not_a_substrings(monkeypatch, name, peak):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert peak_flops(torch.device("cuda", 0)) == peak
    assert peak_flops(torch.device("cpu")) is None


def test_a_short_cpu_run_prints_and_writes_its_summary(tmp_path, capsys):
    arguments = [
        "--preset",
        "tiny",
        "--steps",
        "5",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--log-every",
        "2",
        "--no-fused",
        "--out",
        str(tmp_path),
    ]
    assert main(arguments) == 0
    printed = capsys.readouterr().out.splitlines()
    summary = json.loads((tmp_path / "rank0.json").read_text())
    assert set(summary) == {
        "config",
        "device",
        "world_size",
        "rank",
        "parameters",
        "losses",
        "tokens_per_s",
        "flops_per_token",
        "mfu",
        "weights_checksum",
    }
    assert summary["config"] == dataclasses.asdict(parse_args(arguments))
    assert (summary["device"], summary["world_size"], summary["rank"], summary["mfu"]) == ("cpu", 1, 0, None)
    losses = summary["losses"]
    assert len(losses) == 5 and all(isinstance(loss, float) and math.isfinite(loss) for loss in losses)
    assert printed[0].startswith(f"training gpt (tiny, {summary['parameters']:,} parameters) on cpu: bf16=False")
    assert [line.split("  lr ")[0] for line in printed[1:-1]] == [
        f"step {step:5d}  loss {losses[step - 1]:.4f}" for step in (2, 4, 5)
    ]  # the losses printed are the kept
    assert re.fullmatch(r"[\d,]+ tokens/s", printed[-1]) and summary["tokens_per_s"] > 0


def test_the_losses_are_read_back_only_to_be_printed(monkeypatch):
    """.item() makes the CPU wait until the GPU has caught up: train() calls it for the log lines, not every step.
    (Counted where train.py calls it: CPU AdamW also reads its step counters, CPU tensors, with .item().)"""
    reads, item = [], torch.Tensor.item

    def counted_item(tensor):
        if sys._getframe(1).f_code.co_filename.endswith(os.path.join("tinyformer", "train.py")):
            reads.append(tensor.shape)
        return item(tensor)

    monkeypatch.setattr(torch.Tensor, "item", counted_item)
    config = TrainConfig(preset="tiny", steps=9, batch_size=2, device="cpu", log_every=4, fused=False)
    summary = train(config)  # prints steps 4, 8 and 9
    monkeypatch.undo()
    weights = len(list(build_model(config, vocab_size=10).parameters()))  # the checksum reads one sum per weight
    assert len(reads) == 3 + weights and len(summary["losses"]) == 9
