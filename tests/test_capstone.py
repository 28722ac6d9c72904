"""tinyformer.capstone: the recipe (schedule, optimiser groups), the baselines and the training loop."""

import math
from dataclasses import replace

import pytest
import torch

from tinyformer.capstone import CapstoneConfig, bigram_loss, estimate_loss, learning_rate, optimizer, train
from tinyformer.gpt import GPT
from tinyformer.text import char_text

SMALL = CapstoneConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, context=16, batch_size=8, steps=60, warmup=5)


def test_the_learning_rate_warms_up_linearly_then_follows_a_cosine_to_min_lr():
    config = CapstoneConfig(steps=110, warmup=10, lr=1e-3, min_lr=1e-4)
    assert learning_rate(0, config) == pytest.approx(1e-4) and learning_rate(9, config) == pytest.approx(1e-3)
    assert learning_rate(60, config) == pytest.approx((1e-3 + 1e-4) / 2)  # half way through the cosine
    assert learning_rate(110, config) == pytest.approx(1e-4) and learning_rate(500, config) == pytest.approx(1e-4)
    rates = [learning_rate(step, config) for step in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_weight_decay_applies_to_matrices_only():
    model = GPT(SMALL.gpt(10))
    decayed, kept = optimizer(model, SMALL).param_groups
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() == 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))


def test_the_bigram_baseline_is_the_cross_entropy_of_the_counted_pairs():
    text = char_text("ab" * 50)  # a always followed by b and b by a: with add-one smoothing p = 46/47 or so
    train_pairs = len(text.train) - 1
    expected = -math.log((train_pairs // 2 + 1) / (train_pairs // 2 + 2))
    assert bigram_loss(text) == pytest.approx(expected, rel=0.05)


def test_training_lowers_the_validation_loss_below_the_bigram_baseline_of_a_regular_text():
    text = char_text("the cat sat on the mat. " * 200)
    torch.manual_seed(0)
    model = GPT(SMALL.gpt(text.vocab_size))
    before = estimate_loss(model, text.val, SMALL.context, batches=5, batch_size=8)
    assert before == estimate_loss(model, text.val, SMALL.context, batches=5, batch_size=8)  # fixed windows
    config = replace(SMALL, steps=300)
    losses = train(model, text, config, torch.Generator().manual_seed(0))
    after = estimate_loss(model, text.val, SMALL.context, batches=5, batch_size=8)
    assert len(losses) == config.steps and after < bigram_loss(text) / 2 < before
    assert model.training  # estimate_loss puts back the mode it found


def test_training_stops_after_the_seconds_given():
    text = char_text("abcdefgh" * 100)
    losses = train(GPT(SMALL.gpt(text.vocab_size)), text, SMALL, torch.Generator().manual_seed(0), seconds=0.0)
    assert len(losses) == 1


def test_the_side_by_side_with_nanogpt_the_page_prints_meets_the_goal():
    """The benchmark's last measurement (benchmarks/capstone_vs_nanogpt.py --write): at most nanoGPT's
    validation loss in at most its training seconds, with the capstone's current configuration."""
    import json

    from grader.course import SOLUTIONS

    measured = json.loads((SOLUTIONS / "09-capstone" / "nanogpt_side_by_side.json").read_text())
    nano, ours = measured["runs"]
    assert ours["val_loss"] <= nano["val_loss"] and ours["train_seconds"] <= nano["train_seconds"]
    config = CapstoneConfig()
    assert (ours["steps"], ours["batch"]) == (config.steps, f"{config.batch_size} x {config.context}"), (
        "CapstoneConfig changed since the benchmark ran: run it again with --write"
    )
