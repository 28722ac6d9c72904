"""Train chapter 08's GPT or BERT on whatever is here — CPU, one GPU, several GPUs or several machines.

    python -m tinyformer.train --model gpt --steps 100                 # the chapter-08 GPT on the toy corpus
    python -m tinyformer.train --preset gpt2-124m --data random --compile
    torchrun --nproc_per_node 8 -m tinyformer.train --preset gpt2-124m  # DistributedDataParallel

The model is the one the chapters build (``tinyformer.gpt.GPT``, ``tinyformer.bert.BERT``); what makes it fast
are switches around it, each tested equal to the plain path on CPU (tests/test_train.py):

==========================  =======================================================================
``--bf16``                  bfloat16 autocast (default on CUDA): matmuls on tensor cores, fp32 weights
``--tf32``                  TF32 for the fp32 matmuls that remain (default on CUDA)
``--fused``                 fused AdamW: one kernel updates every parameter (default on)
``--fast-attention``        ``F.scaled_dot_product_attention`` (flash / cuDNN / memory-efficient) instead
                            of the from-scratch softmax(QK^T/sqrt(d))V (default on)
``--compile``               ``torch.compile`` the model (off by default: compiling takes a while)
==========================  =======================================================================

Every field of ``TrainConfig`` is an option of the same name in kebab case (``--weight-decay``, ``--warmup``,
``--grad-clip``, ``--dropout``, ...): ``python -m tinyformer.train --help`` lists them with their defaults.

Under ``torchrun`` each process trains on its own seeded batches and DDP averages the gradients (NCCL on
CUDA, gloo on CPU), so every rank ends with the same weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from tinyformer.bert import BERT, IGNORE_INDEX, BERTConfig, mask_tokens
from tinyformer.corpus import generate_corpus
from tinyformer.gpt import GPT, GPTConfig
from tinyformer.multihead import MultiHeadAttention
from tinyformer.runtime import default_device
from tinyformer.word2vec import Vocabulary


@dataclass(frozen=True)
class ModelPreset:
    """A model shape that --preset names; d_ff is 4 * d_model, as in GPT-2."""

    d_model: int
    n_heads: int
    n_layers: int
    context: int  # tokens per sequence, unless --context says otherwise
    vocab_size: int | None = None  # for --data random; None: 64 (--data corpus always uses the corpus's vocabulary)


PRESETS = {
    "tiny": ModelPreset(d_model=32, n_heads=2, n_layers=2, context=16),  # for tests and smoke runs
    "chapter08": ModelPreset(d_model=128, n_heads=4, n_layers=4, context=64),  # the toy models of chapter 08
    # nanoGPT's shakespeare_char shape
    "shakespeare-char": ModelPreset(d_model=384, n_heads=6, n_layers=6, context=256, vocab_size=65),
    # GPT-2 small; the vocabulary padded to a multiple of 64, as nanoGPT does
    "gpt2-124m": ModelPreset(d_model=768, n_heads=12, n_layers=12, context=1024, vocab_size=50304),
}

# Dense bf16 tensor-core peak per GPU: NVIDIA's datasheets print twice these, "with sparsity" (2:4 structured
# sparsity, which a dense model never uses). Keys are words of torch.cuda.get_device_name(): see peak_bf16_flops.
PEAK_BF16_FLOPS = {
    "H100": 989e12,  # SXM ("NVIDIA H100 80GB HBM3")
    "H100 PCIe": 756e12,
    "H200": 989e12,
    "GH200": 989e12,  # Grace Hopper: its GPU is an H100/H200
    "A100": 312e12,  # SXM and PCIe alike
    "L40S": 362e12,  # 362.05
    "L4": 121e12,
    "A10": 125e12,
}


def option(default, help: str, **argparse_options) -> typing.Any:
    """A TrainConfig field: its default, and the help (and e.g. choices) of its command-line option."""
    return field(default=default, metadata={"help": help, **argparse_options})


@dataclass
class TrainConfig:
    """Everything a run depends on. Each field is also an option: batch_size is --batch-size (see build_parser)."""

    model: str = option("gpt", "gpt or bert", choices=("gpt", "bert"))
    preset: str = option("chapter08", "model shape", choices=tuple(sorted(PRESETS)))
    data: str = option(
        "corpus",
        "corpus (the chapter-02 toy language) or random (tokens for throughput only)",
        choices=("corpus", "random"),
    )
    steps: int = option(200, "optimizer steps")
    batch_size: int = option(32, "sequences per process and step")
    context: int | None = option(None, "tokens per sequence (default: the preset's)")
    lr: float = option(1e-3, "peak learning rate")
    weight_decay: float = option(0.1, "AdamW weight decay of matrices and embeddings (not of biases and gains)")
    warmup: int = option(20, "steps of linear learning-rate warm-up before the cosine decay")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0: no clipping)")
    device: str = option("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    bf16: bool | None = option(None, "bf16 autocast (default: on CUDA)")
    tf32: bool | None = option(None, "TF32 matmuls (default: on CUDA)")
    fused: bool = option(True, "fused AdamW")
    fast_attention: bool = option(True, "F.scaled_dot_product_attention instead of the from-scratch attention")
    compile: bool = option(False, "torch.compile the model")
    seed: int = option(0, "seed of the initial weights and of the batches")
    log_every: int = option(50, "print the loss every this many steps (and at the last)")
    out: str | None = option(None, "folder for the summaries: rank<i>.json, one per process")
    quiet: bool = option(False, "print nothing")
    dropout: float = option(0.0, "dropout probability")


def context_length(config: TrainConfig) -> int:
    """Tokens per sequence: --context, else the preset's."""
    return config.context or PRESETS[config.preset].context


def corpus_stream(n_sentences: int = 20_000, seed: int = 0) -> tuple[Tensor, Vocabulary]:
    """The chapter-02 toy language as one long stream of word ids, sentences separated by <pad> (id 0)."""
    sentences = generate_corpus(n_sentences, seed)
    vocab = Vocabulary(sentences)
    ids = [i for sentence in sentences for i in vocab.encode(sentence) + [vocab.pad_id]]
    return torch.tensor(ids, dtype=torch.long), vocab


def build_model(config: TrainConfig, vocab_size: int) -> nn.Module:
    """The chapter-08 GPT or BERT in the preset's shape, for sequences of context_length(config) tokens."""
    preset = PRESETS[config.preset]
    shape = {
        "vocab_size": vocab_size,
        "max_len": context_length(config),
        "d_model": preset.d_model,
        "n_heads": preset.n_heads,
        "n_layers": preset.n_layers,
        "d_ff": 4 * preset.d_model,
        "dropout": config.dropout,
    }
    if config.model == "gpt":
        return GPT(GPTConfig(**shape))
    if config.model == "bert":
        return BERT(BERTConfig(**{**shape, "vocab_size": vocab_size + 1}))  # + [MASK]
    raise ValueError(f"--model must be gpt or bert, not {config.model!r}")


def set_fast_attention(model: nn.Module, on: bool) -> None:
    """Route every MultiHeadAttention through F.scaled_dot_product_attention (on) or the from-scratch path."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.fast = on


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.95) with weight decay on matrices and embeddings, not on biases or LayerNorm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = config.fused and device.type in ("cuda", "cpu", "mps")
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), fused=fused)


def sample_batch(stream: Tensor, batch_size: int, context: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random windows of the stream: inputs (batch, context) and the same shifted by one (next tokens)."""
    starts = torch.randint(len(stream) - context - 1, (batch_size,), generator=generator)
    windows = torch.stack([stream[s : s + context + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def training_batch(
    config: TrainConfig, stream: Tensor, context: int, vocab_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """A batch, made on the CPU: inputs and targets, (batch, context) each. For a GPT the targets are the next
    tokens; for a BERT the inputs are masked and the targets are the masked tokens (IGNORE_INDEX elsewhere)."""
    inputs, targets = sample_batch(stream, config.batch_size, context, generator)
    if config.model == "bert":
        mask_id = vocab_size  # BERT's embedding has one more row than the data's vocabulary: [MASK]
        inputs, targets = mask_tokens(inputs, mask_id, vocab_size, special_ids=[0, mask_id], generator=generator)
    return inputs, targets


def loss_on(model: nn.Module, config: TrainConfig, inputs: Tensor, targets: Tensor) -> Tensor:
    """Next-token cross-entropy for a GPT; masked-language-modelling cross-entropy for a BERT."""
    logits = model(inputs) if config.model == "gpt" else model(inputs)[0]  # (batch, context, vocab)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX)


def flops_per_token(model: nn.Module, config: TrainConfig) -> float:
    """6N + 12 * layers * heads * head_dim * context (Kaplan et al. 2020, as in nanoGPT); N without positions."""
    preset, context = PRESETS[config.preset], context_length(config)
    n = sum(p.numel() for p in model.parameters()) - context * preset.d_model
    return 6 * n + 12 * preset.n_layers * preset.n_heads * (preset.d_model // preset.n_heads) * context


def peak_bf16_flops(name: str) -> float | None:
    """Dense bf16 peak of the GPU torch.cuda.get_device_name() calls name; None when PEAK_BF16_FLOPS lacks it.

    Whole words match, not substrings: a key matches when each of its words is a word of the name (split at
    spaces, hyphens and underscores; case ignored), so "NVIDIA L40S" is no L4 and "NVIDIA A100-SXM4-80GB" an
    A100. The key with the most words wins: "NVIDIA H100 PCIe" is the PCIe card, "NVIDIA H100 80GB HBM3" the SXM.
    """
    words = set(re.split(r"[\s_-]+", name.upper()))
    matches = [key for key in PEAK_BF16_FLOPS if set(key.upper().split()) <= words]
    return PEAK_BF16_FLOPS[max(matches, key=lambda key: len(key.split()))] if matches else None


def peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak of this GPU, from its name; None when unknown (CPUs, unlisted GPUs)."""
    return peak_bf16_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None


def synchronize(device: torch.device) -> None:
    """Wait until the device has run everything queued on it (the CPU runs each operation before returning)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def train(config: TrainConfig) -> dict:
    """Train; return a summary: losses, tokens/s, MFU, device, world size, and a checksum of the weights."""
    if config.steps < 1:
        raise ValueError(f"steps must be >= 1, not {config.steps}")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if distributed else (0, 1)
    if config.device == "auto":
        device = default_device()
        if device.type == "cuda" and distributed:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        device = torch.device(config.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    bf16 = device.type == "cuda" if config.bf16 is None else config.bf16
    tf32 = device.type == "cuda" if config.tf32 is None else config.tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32

    context = context_length(config)
    if config.data == "corpus":
        stream, vocab = corpus_stream(seed=config.seed)
        vocab_size = len(vocab)
    else:
        vocab_size = PRESETS[config.preset].vocab_size or 64
        stream = torch.randint(vocab_size, (200_000,), generator=torch.Generator().manual_seed(config.seed))
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = build_model(config, vocab_size).to(device)
    set_fast_attention(model, config.fast_attention)
    optimizer = make_optimizer(model, config, device)
    trained = model
    if config.compile:
        trained = torch.compile(trained)
    if distributed:
        trained = nn.parallel.DistributedDataParallel(
            trained, device_ids=[device.index] if device.type == "cuda" else None
        )
    generator = torch.Generator().manual_seed(config.seed * 1000 + rank)  # each rank its own batches

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to a tenth
        if step < config.warmup:
            return config.lr * (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    speaks = not config.quiet and rank == 0
    say = print if speaks else (lambda *a: None)
    say(
        f"training {config.model} ({config.preset}, {sum(p.numel() for p in model.parameters()):,} parameters) "
        f"on {device}{f' x {world}' if world > 1 else ''}: bf16={bf16} tf32={tf32} "
        f"fused={optimizer.defaults.get('fused')} fast_attention={config.fast_attention} compile={config.compile}"
    )
    # The losses stay on the device: reading one (.item()) waits until the device has caught up with the CPU,
    # and doing that every step would leave the GPU idle while the CPU queues the next one. They are read at the
    # log steps (when printing) and once at the end.
    losses = torch.zeros(config.steps, device=device)  # (steps,)
    untimed = min(3, config.steps - 1)  # the first steps warm up kernels and the compiler
    model.train()
    for step in range(config.steps):
        if step == untimed:
            synchronize(device)  # the clock starts once the untimed steps have run, not when they were queued
            start = time.perf_counter()
        inputs, targets = (
            t.to(device, non_blocking=True) for t in training_batch(config, stream, context, vocab_size, generator)
        )
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_on(trained, config, inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses[step] = loss.detach()  # a copy on the device: no waiting
        if speaks and ((step + 1) % config.log_every == 0 or step + 1 == config.steps):
            say(f"step {step + 1:5d}  loss {losses[step].item():.4f}  lr {lr_at(step):.2e}")
    synchronize(device)  # the clock stops when the device has run every step, not when the CPU has queued it
    timed_seconds = time.perf_counter() - start
    timed_tokens = (config.steps - untimed) * config.batch_size * context * world

    tokens_per_s = timed_tokens / timed_seconds if timed_seconds else float("nan")
    peak = peak_flops(device)
    summary = {
        "config": asdict(config),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "world_size": world,
        "rank": rank,
        "parameters": sum(p.numel() for p in model.parameters()),
        "losses": losses.tolist(),
        "tokens_per_s": tokens_per_s,
        "flops_per_token": flops_per_token(model, config),
        "mfu": flops_per_token(model, config) * tokens_per_s / (peak * world) if peak else None,
        "weights_checksum": float(sum(p.detach().double().sum().item() for p in model.parameters())),
    }
    say(f"{tokens_per_s:,.0f} tokens/s" + (f", MFU {summary['mfu']:.1%}" if summary["mfu"] is not None else ""))
    if config.out:
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"rank{rank}.json").write_text(json.dumps(summary))
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return summary


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written; each option's help ends with its default, unless that is None."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    """One --kebab-case option per TrainConfig field, with the field's type, default, help and choices.

    bool fields get --x / --no-x (a None default, as for --bf16, leaves the choice to train()); an optional field
    (int | None, str | None) takes a value of its type and stays None when not given.
    """
    p = argparse.ArgumentParser(
        prog="python -m tinyformer.train", description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter
    )
    types = typing.get_type_hints(TrainConfig)  # the annotations are strings (from __future__ import annotations)
    for f in fields(TrainConfig):
        kind = types[f.name]  # e.g. int, or int | None
        kind = next((t for t in typing.get_args(kind) if t is not type(None)), kind)  # int | None -> int
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, **f.metadata)
        else:
            p.add_argument(flag, type=kind, default=f.default, **f.metadata)
    return p


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The TrainConfig the command line asks for; a message (exit status 2) for values no run can use."""
    p = build_parser()
    config = TrainConfig(**vars(p.parse_args(argv)))
    rules = [
        (config.steps >= 1, "--steps >= 1"),
        (config.batch_size >= 1, "--batch-size >= 1"),
        (config.context is None or config.context >= 2, "--context >= 2"),
        (config.log_every >= 1, "--log-every >= 1"),
        (config.warmup >= 0, "--warmup >= 0"),
        (config.grad_clip >= 0, "--grad-clip >= 0"),
        (0 <= config.dropout < 1, "0 <= --dropout < 1"),
    ]
    broken = [rule for holds, rule in rules if not holds]
    if broken:
        p.error("need " + ", ".join(broken))
    return config


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
