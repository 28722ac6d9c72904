"""Train chapter 08's GPT or BERT on whatever is here — CPU, one GPU, several GPUs or several machines.

    python -m tinyformer.train --model gpt --steps 300                 # the chapter-08 GPT on the toy corpus
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

Under ``torchrun`` each process trains on its own seeded batches and DDP averages the gradients (NCCL on
CUDA, gloo on CPU), so every rank ends with the same weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass
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

# Model shapes: (d_model, n_heads, n_layers, context, vocab_size or None for the corpus's vocabulary).
PRESETS = {
    "tiny": (32, 2, 2, 16, None),  # for tests and smoke runs
    "chapter08": (128, 4, 4, 64, None),  # the toy models of chapter 08
    "shakespeare-char": (384, 6, 6, 256, 65),  # nanoGPT's shakespeare_char shape
    "gpt2-124m": (768, 12, 12, 1024, 50304),  # GPT-2 small; vocabulary padded to a multiple of 64, as nanoGPT does
}
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}  # dense, per GPU


@dataclass
class TrainConfig:
    model: str = "gpt"  # gpt | bert
    preset: str = "chapter08"
    data: str = "corpus"  # corpus (the chapter-02 toy language) | random (throughput only)
    steps: int = 200
    batch_size: int = 32  # sequences per process and step
    context: int | None = None  # default: the preset's
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 20
    grad_clip: float = 1.0
    device: str = "auto"
    bf16: bool | None = None  # None: on for CUDA
    tf32: bool | None = None  # None: on for CUDA
    fused: bool = True
    fast_attention: bool = True
    compile: bool = False
    seed: int = 0
    log_every: int = 50
    out: str | None = None  # write a summary (and rank<i>.json files under torchrun) here
    quiet: bool = False
    dropout: float = 0.0


def corpus_stream(n_sentences: int = 20_000, seed: int = 0) -> tuple[Tensor, Vocabulary]:
    """The chapter-02 toy language as one long stream of word ids, sentences separated by <pad> (id 0)."""
    sentences = generate_corpus(n_sentences, seed)
    vocab = Vocabulary(sentences)
    ids = [i for sentence in sentences for i in vocab.encode(sentence) + [vocab.pad_id]]
    return torch.tensor(ids, dtype=torch.long), vocab


def build_model(config: TrainConfig, vocab_size: int) -> nn.Module:
    d_model, n_heads, n_layers, context, _ = PRESETS[config.preset]
    context = config.context or context
    shape = {"vocab_size": vocab_size, "max_len": context, "d_model": d_model, "n_heads": n_heads,
             "n_layers": n_layers, "d_ff": 4 * d_model, "dropout": config.dropout}
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
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    fused = config.fused and device.type in ("cuda", "cpu", "mps")
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), fused=fused)


def sample_batch(stream: Tensor, batch_size: int, context: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random windows of the stream: inputs (batch, context) and the same shifted by one (next tokens)."""
    starts = torch.randint(len(stream) - context - 1, (batch_size,), generator=generator)
    windows = torch.stack([stream[s : s + context + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def loss_on(model: nn.Module, config: TrainConfig, inputs: Tensor, targets: Tensor, vocab_size: int,
            generator: torch.Generator) -> Tensor:
    """Next-token cross-entropy for a GPT; masked-language-modelling cross-entropy for a BERT."""
    if config.model == "gpt":
        logits = model(inputs)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    mask_id = vocab_size  # BERT's embedding has one more row than the data's vocabulary: [MASK]
    masked, labels = mask_tokens(inputs.cpu(), mask_id, vocab_size, special_ids=[0, mask_id], generator=generator)
    logits, _ = model(masked.to(inputs.device))
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.to(inputs.device).flatten(), ignore_index=IGNORE_INDEX)


def flops_per_token(model: nn.Module, config: TrainConfig) -> float:
    """6N + 12 * layers * heads * head_dim * context (Kaplan et al. 2020, as in nanoGPT); N without positions."""
    d_model, n_heads, n_layers, context, _ = PRESETS[config.preset]
    context = config.context or context
    n = sum(p.numel() for p in model.parameters()) - context * d_model
    return 6 * n + 12 * n_layers * n_heads * (d_model // n_heads) * context


def peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak of this GPU, from its name; None when unknown (CPUs, unlisted GPUs)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)


def train(config: TrainConfig) -> dict:
    """Train; return a summary: losses, tokens/s, MFU, device, world size, and a checksum of the weights."""
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

    _, _, _, preset_context, preset_vocab = PRESETS[config.preset]
    context = config.context or preset_context
    if config.data == "corpus":
        stream, vocab = corpus_stream(seed=config.seed)
        vocab_size = len(vocab)
    else:
        vocab_size = preset_vocab or 64
        stream = torch.randint(vocab_size, (200_000,), generator=torch.Generator().manual_seed(config.seed))
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = build_model(config, vocab_size).to(device)
    set_fast_attention(model, config.fast_attention)
    optimizer = make_optimizer(model, config, device)
    trained = model
    if config.compile:
        trained = torch.compile(trained)
    if distributed:
        trained = nn.parallel.DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)
    generator = torch.Generator().manual_seed(config.seed * 1000 + rank)  # each rank its own batches

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to a tenth
        if step < config.warmup:
            return config.lr * (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    losses, timed_tokens, timed_seconds = [], 0, 0.0
    say = (lambda *a: None) if (config.quiet or rank != 0) else print
    say(f"training {config.model} ({config.preset}, {sum(p.numel() for p in model.parameters()):,} parameters) "
        f"on {device}{f' x {world}' if world > 1 else ''}: bf16={bf16} tf32={tf32} fused={optimizer.defaults.get('fused')} "
        f"fast_attention={config.fast_attention} compile={config.compile}")
    model.train()
    for step in range(config.steps):
        start = time.perf_counter()
        inputs, targets = (t.to(device, non_blocking=True) for t in sample_batch(stream, config.batch_size, context, generator))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_on(trained, config, inputs, targets, vocab_size, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())  # .item() waits for the device, so the timing below is honest
        if step >= min(3, config.steps - 1):  # the first steps warm up kernels and the compiler
            timed_seconds += time.perf_counter() - start
            timed_tokens += config.batch_size * context * world
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            say(f"step {step + 1:5d}  loss {loss.item():.4f}  lr {lr_at(step):.2e}")

    tokens_per_s = timed_tokens / timed_seconds if timed_seconds else float("nan")
    peak = peak_flops(device)
    summary = {
        "config": asdict(config), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "world_size": world, "rank": rank, "parameters": sum(p.numel() for p in model.parameters()),
        "losses": losses, "tokens_per_s": tokens_per_s,
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


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m tinyformer.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["gpt", "bert"], default=defaults.model)
    p.add_argument("--preset", choices=sorted(PRESETS), default=defaults.preset, help="model shape (default chapter08)")
    p.add_argument("--data", choices=["corpus", "random"], default=defaults.data)
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="sequences per process and step")
    p.add_argument("--context", type=int, help="tokens per sequence (default: the preset's)")
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast (default: on CUDA)")
    p.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=None, help="TF32 matmuls (default: on CUDA)")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=True, help="fused AdamW")
    p.add_argument("--fast-attention", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile the model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=defaults.log_every)
    p.add_argument("--out", help="folder for rank<i>.json summaries")
    args = p.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1 or (args.context is not None and args.context < 2):
        p.error("--steps and --batch-size must be >= 1 and --context >= 2")
    return TrainConfig(model=args.model, preset=args.preset, data=args.data, steps=args.steps, batch_size=args.batch_size,
                       context=args.context, lr=args.lr, device=args.device, bf16=args.bf16, tf32=args.tf32,
                       fused=args.fused, fast_attention=args.fast_attention, compile=args.compile, seed=args.seed,
                       log_every=args.log_every, out=args.out)


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
