"""How fast tinyformer trains, and what fast attention buys: `make bench` (or python -m benchmarks.speed).

Two tables:
1. training throughput (tokens/s) and MFU of a GPT at three shapes: chapter 08's, nanoGPT's shakespeare_char
   (6 layers, 6 heads, 384 wide, context 256) and GPT-2 124M (12/12/768, context 1024); all switches of
   ``tinyformer.train`` on (bf16, TF32, fused AdamW, SDPA, torch.compile on a GPU).
2. attention forward + backward: the from-scratch softmax(QK^T/sqrt(d))V against
   ``F.scaled_dot_product_attention``, time and peak memory, for lengths 256 ... 4096.

On a GPU it runs the full mode; on a CPU a quick mode (smaller batches, shorter lengths, a few steps) that
prints the same tables, so CI can check that it runs. ``--quick`` / ``--full`` force a mode.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import os
import threading
import time

import torch
import torch.nn.functional as F

from tinyformer.attention import scaled_dot_product_attention
from tinyformer.train import TrainConfig, train

# (preset, batch size, context, steps) per mode
TRAINING = {
    "full": [("chapter08", 64, 64, 60), ("shakespeare-char", 64, 256, 60), ("gpt2-124m", 16, 1024, 40)],
    "quick": [("chapter08", 8, 64, 6), ("shakespeare-char", 2, 128, 5), ("gpt2-124m", 1, 128, 4)],
}
LENGTHS = {"full": [256, 512, 1024, 2048, 4096], "quick": [256, 512, 1024]}
HEADS = {"full": (8, 12, 64), "quick": (1, 4, 64)}  # batch, heads, head dim


def training_table(mode: str, device: str) -> list[dict]:
    rows = []
    for preset, batch, context, steps in TRAINING[mode]:
        config = TrainConfig(
            preset=preset,
            data="random" if preset != "chapter08" else "corpus",
            steps=steps,
            batch_size=batch,
            context=context,
            device=device,
            quiet=True,
            compile=device.startswith("cuda"),
            warmup=2,
        )
        summary = train(config)
        rows.append(
            {
                "shape": preset,
                "parameters": summary["parameters"],
                "batch x context": f"{batch} x {context}",
                "tokens/s": summary["tokens_per_s"],
                "MFU": summary["mfu"],
                "final loss": summary["losses"][-1],
            }
        )
    return rows


def _attention_step(implementation: str, length: int, mode: str, device: str, dtype: torch.dtype) -> float:
    batch, heads, d_head = HEADS[mode]
    q, k, v = (
        torch.randn(batch, heads, length, d_head, device=device, dtype=dtype, requires_grad=True) for _ in range(3)
    )
    mask = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    start = time.perf_counter()
    if implementation == "naive":
        out, _ = scaled_dot_product_attention(q, k, v, mask)
    else:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out.float().sum().backward()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _cpu_peak_bytes(args) -> float:
    """Peak growth of this process's resident memory during one attention step, sampled every 0.2 ms.

    ``main`` tells glibc to map every allocation over 64 KiB afresh (and unmap it when freed), so resident
    memory follows the live tensors instead of hiding them in reused heap.
    """
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    base, peak, done = resident(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident() - base)
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _attention_step(*args)
    done.set()
    sampler.join()
    return float(peak[0])


def attention_table(mode: str, device: str) -> list[dict]:
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    rows = []
    for length in LENGTHS[mode]:
        row = {"length": length}
        for implementation in ("naive", "fast"):
            args = (implementation, length, mode, device, dtype)
            _attention_step(*args)  # warm-up
            times = []
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            for _ in range(5 if mode == "full" else 2):
                times.append(_attention_step(*args))
            if device.startswith("cuda"):
                peak = torch.cuda.max_memory_allocated() - base
            else:
                peak = _cpu_peak_bytes(args)
            row[f"{implementation} ms"] = 1000 * sorted(times)[len(times) // 2]
            row[f"{implementation} MiB"] = peak / 2**20
        row["speed-up"] = row["naive ms"] / row["fast ms"]
        rows.append(row)
    return rows


def print_table(title: str, rows: list[dict]) -> None:
    """A Markdown table, ready for the README."""

    def cell(column: str, value) -> str:
        if column == "MFU":
            return "n/a" if value is None else f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    columns = list(rows[0])
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join(" --- " for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(cell(c, row[c]) for c in columns) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the CPU mode, whatever the device")
    group.add_argument("--full", action="store_true", help="the GPU mode, whatever the device")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        try:
            ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD, for _cpu_peak_bytes
        except (OSError, AttributeError):
            pass
    mode = "quick" if args.quick else "full" if args.full else ("full" if device == "cuda" else "quick")
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"tinyformer benchmark, {mode} mode, on {name}, torch {torch.__version__}, {datetime.date.today()}")
    print_table(
        "Training throughput (GPT; tokens/s per device; MFU against the bf16 dense peak)", training_table(mode, device)
    )
    precision = "bf16" if device == "cuda" else "fp32"
    print_table(
        f"Causal attention forward + backward, {precision}, (batch, heads, d_head) = {HEADS[mode]}: "
        "from scratch vs F.scaled_dot_product_attention",
        attention_table(mode, device),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
