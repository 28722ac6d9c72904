"""The capstone's GPT against nanoGPT's on tiny Shakespeare, on this CPU, for the same seconds.

What it measures. nanoGPT (github.com/karpathy/nanoGPT) runs its README's CPU command word for word,

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

on the course's copy of the text (its prepare.py would download the same file; here the benchmark writes
train.bin, val.bin and meta.pkl from ``tinyformer.text.tiny_shakespeare()``, the same 90 % / 10 % split). Its
training seconds are the sum of the per-iteration times it logs. Then the capstone's GPT (chapters 03-08's
reference pieces, ``tinyformer.capstone.CapstoneConfig()``, the notebook's recipe) trains on the same split,
for its configured steps but never longer than nanoGPT's training seconds. Both models are scored the same
way: the mean cross-entropy on the same 200 random windows of 12 x 64 validation characters
(``tinyformer.capstone.estimate_loss``); nanoGPT's own estimate (20 batches) is printed beside it.

The table goes to the terminal and, with ``--write``, to solutions/09-capstone/nanogpt_side_by_side.json,
which the capstone notebook prints.

Run it from the repository root, with a nanoGPT checkout (it is not a dependency of the course):

    git clone https://github.com/karpathy/nanoGPT /tmp/nanoGPT
    python benchmarks/capstone_vs_nanogpt.py --nanogpt /tmp/nanoGPT --write
"""

from __future__ import annotations

import argparse
import datetime
import json
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository's tinyformer

from tinyformer.capstone import CapstoneConfig, estimate_loss, train  # noqa: E402
from tinyformer.gpt import GPT  # noqa: E402
from tinyformer.text import tiny_shakespeare  # noqa: E402

RESULTS = ROOT / "solutions" / "09-capstone" / "nanogpt_side_by_side.json"
NANOGPT_COMMAND = [
    "train.py",
    "config/train_shakespeare_char.py",
    "--device=cpu",
    "--compile=False",
    "--eval_iters=20",
    "--log_interval=1",
    "--block_size=64",
    "--batch_size=12",
    "--n_layer=4",
    "--n_head=4",
    "--n_embd=128",
    "--max_iters=2000",
    "--lr_decay_iters=2000",
    "--dropout=0.0",
]
EVAL = {"batches": 200, "batch_size": 12}  # the common score: the same validation windows for both


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_nanogpt(checkout: Path, threads: int) -> dict:
    text = tiny_shakespeare()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "nanoGPT"
        shutil.copytree(checkout, work, ignore=shutil.ignore_patterns(".git", "out-*"))
        data = work / "data" / "shakespeare_char"
        data.mkdir(parents=True, exist_ok=True)
        np.array(text.train.tolist(), dtype=np.uint16).tofile(data / "train.bin")
        np.array(text.val.tolist(), dtype=np.uint16).tofile(data / "val.bin")
        with open(data / "meta.pkl", "wb") as f:
            pickle.dump({"vocab_size": text.vocab_size, "itos": dict(enumerate(text.itos)), "stoi": text.stoi}, f)
        env = {"OMP_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
        start = time.perf_counter()
        log = subprocess.run([sys.executable, *NANOGPT_COMMAND], cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if log.returncode:
            raise SystemExit(f"nanoGPT failed:\n{log.stderr[-3000:]}")
        iteration_ms = [float(ms) for ms in re.findall(r"^iter \d+: loss [\d.]+, time ([\d.]+)ms", log.stdout, re.M)]
        own_val = float(re.findall(r"val loss ([\d.]+)", log.stdout)[-1])
        sys.path.insert(0, str(work))
        from model import GPT as NanoGPT  # nanoGPT's model.py
        from model import GPTConfig as NanoConfig

        checkpoint = torch.load(work / "out-shakespeare-char" / "ckpt.pt", map_location="cpu", weights_only=False)
        model = NanoGPT(NanoConfig(**checkpoint["model_args"]))
        model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in checkpoint["model"].items()})

        class Logits(torch.nn.Module):  # nanoGPT's forward gives every position's logits when given targets
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, tokens):
                return self.inner(tokens, targets=tokens.contiguous())[0]

        torch.set_num_threads(threads)
        common = estimate_loss(Logits(model), text.val, 64, **EVAL)
        return {
            "name": "nanoGPT, its README's CPU command",
            "steps": len(iteration_ms),
            "batch": "12 x 64",
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": sum(iteration_ms) / 1000,
            "wall_seconds": wall,
            "own_val_loss": own_val,
            "val_loss": common,
            "checkpoint_iter": checkpoint["iter_num"],
        }


def run_capstone(seconds: float, threads: int) -> dict:
    torch.set_num_threads(threads)
    text = tiny_shakespeare()
    config = CapstoneConfig()
    torch.manual_seed(0)
    model = GPT(config.gpt(text.vocab_size))
    start = time.perf_counter()
    losses = train(model, text, config, torch.Generator().manual_seed(0), seconds=seconds)
    elapsed = time.perf_counter() - start
    return {
        "name": "tinyformer capstone (CapstoneConfig())",
        "steps": len(losses),
        "batch": f"{config.batch_size} x {config.context}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": elapsed,
        "wall_seconds": None,
        "own_val_loss": None,
        "val_loss": estimate_loss(model, text.val, config.context, **EVAL),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="a nanoGPT checkout")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both (default 2)")
    parser.add_argument("--write", action="store_true", help=f"write the results to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if not (args.nanogpt / "train.py").is_file():
        parser.error(f"{args.nanogpt} is not a nanoGPT checkout (no train.py)")
    nano = run_nanogpt(args.nanogpt.resolve(), args.threads)
    ours = run_capstone(nano["train_seconds"], args.threads)
    print(f"{'run':42} {'steps':>6} {'batch':>8} {'params':>8} {'train s':>8} {'val loss':>9}")
    for row in (nano, ours):
        print(
            f"{row['name']:42} {row['steps']:6d} {row['batch']:>8} {row['parameters']:8,d} "
            f"{row['train_seconds']:8.1f} {row['val_loss']:9.4f}"
        )
    print(
        f"(nanoGPT's own 20-batch estimate: {nano['own_val_loss']:.4f}; common score: {EVAL['batches']} windows "
        f"of {EVAL['batch_size']} x 64 validation characters)"
    )
    if args.write:
        result = {
            "date": datetime.date.today().isoformat(),
            "cpu": cpu_name(),
            "threads": args.threads,
            "torch": torch.__version__,
            "runs": [nano, ours],
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
