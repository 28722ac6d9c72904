"""The capstone: a GPT (the learner's own pieces, ``tinyformer.pieces``) trained on tiny Shakespeare on a CPU.

The recipe is nanoGPT's for this text (AdamW with betas (0.9, 0.99), weight decay 0.1 on the matrices, linear
warm-up then cosine decay to a tenth of the peak learning rate, gradients clipped at 1.0, no dropout), at the
size its README gives for a CPU (4 layers, 4 heads, d_model 128, 64 characters of context), so that the two
can be compared on the same text for the same seconds (``benchmarks/capstone_vs_nanogpt.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinyformer.gpt import GPTConfig
from tinyformer.text import CharText, batch


@dataclass
class CapstoneConfig:
    """The model's sizes and the training recipe."""

    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int = 512
    context: int = 64  # characters the model reads (and max_len of its learned positions)
    batch_size: int = 16  # nanoGPT's CPU command: 12
    steps: int = 1100
    lr: float = 3e-3  # nanoGPT: 1e-3
    min_lr: float = 3e-4  # the cosine ends here, at a tenth of the peak
    warmup: int = 50  # nanoGPT: 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0

    def gpt(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            max_len=self.context,
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            d_ff=self.d_ff,
            dropout=0.0,
        )


def learning_rate(step: int, config: CapstoneConfig) -> float:
    """Linear warm-up to ``lr``, then a cosine down to ``min_lr`` at the last step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (config.lr - config.min_lr)


def optimizer(model: nn.Module, config: CapstoneConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on the matrices (and embeddings) only, as GPT-2 and nanoGPT do."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))


@torch.no_grad()
def estimate_loss(
    model: nn.Module, ids: Tensor, context: int, batches: int = 50, batch_size: int = 32, seed: int = 1234
) -> float:
    """Mean next-character cross-entropy (nats) over ``batches`` fixed random windows of ``ids``."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    total = 0.0
    for _ in range(batches):
        inputs, targets = batch(ids, batch_size, context, generator)
        logits = model(inputs.to(device))  # (batch, context, vocab)
        total += F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten()).item()
    model.train(was_training)
    return total / batches


def bigram_loss(text: CharText) -> float:
    """The validation loss of the best model that reads one character back: counts of the training pairs
    (add-one smoothed), scored on the validation text. A Transformer that reads 64 characters should beat it."""
    v = text.vocab_size
    counts = torch.ones(v, v)
    counts.index_put_((text.train[:-1], text.train[1:]), torch.ones(len(text.train) - 1), accumulate=True)
    log_probs = (counts / counts.sum(dim=1, keepdim=True)).log()  # (previous, next)
    return -log_probs[text.val[:-1], text.val[1:]].mean().item()


def train(
    model: nn.Module,
    text: CharText,
    config: CapstoneConfig,
    generator: torch.Generator,
    progress: Callable[[int, float], None] | None = None,
    seconds: float | None = None,
) -> list[float]:
    """Train ``model`` on ``text.train`` for ``config.steps`` steps (or until ``seconds`` have passed, if given);
    return the training loss of every step. ``progress(step, loss)`` is called after each step."""
    device = next(model.parameters()).device
    opt = optimizer(model, config)
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, config)
        inputs, targets = batch(text.train, config.batch_size, config.context, generator)
        logits = model(inputs.to(device))  # (batch, context, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        losses.append(loss.item())
        if progress is not None:
            progress(step, losses[-1])
        if seconds is not None and time.perf_counter() - start > seconds:
            break
    return losses
