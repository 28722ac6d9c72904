"""README.md's benchmark table: each row names its shape, and its parameter count is that shape's (issue 23).

The table is `make bench`'s quick mode (benchmarks/speed.py), pasted by hand; this test rebuilds each row's model
(on the meta device: shapes only, no memory) as tinyformer.train builds it for that run, and counts.
"""

import re

import torch

from benchmarks.speed import TRAINING
from tests.conftest import ROOT
from tinyformer.train import PRESETS, TrainConfig, build_model, corpus_stream

README = ROOT / "README.md"
HEADER = "| shape | parameters | batch x context | tokens/s | MFU |"
SHAPE = re.compile(
    r"(?P<preset>[\w-]+) \((?P<layers>\d+)/(?P<heads>\d+)/(?P<width>\d+), "
    r"vocab (?P<vocab>\d+), ctx (?P<context>\d+)\)"
)


def benchmark_rows(text: str) -> list[list[str]]:
    """The cells of the training table's rows."""
    lines = text.splitlines()
    start = lines.index(HEADER)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def check_counts(text: str) -> None:
    rows = benchmark_rows(text)
    runs = {preset: (batch, context) for preset, batch, context, _ in TRAINING["quick"]}
    assert len(rows) == len(runs), f"the benchmark table has {len(rows)} rows, speed.py's quick mode {len(runs)} runs"
    for shape, parameters, batch_x_context, *_ in rows:
        named = SHAPE.fullmatch(shape)
        assert named, f"{shape!r} should name its shape: 'preset (layers/heads/width, vocab V, ctx C)'"
        preset_name = named["preset"]
        batch, context = (int(n) for n in batch_x_context.split(" x "))
        assert runs.get(preset_name) == (batch, context), f"{shape}: speed.py's quick mode runs {runs.get(preset_name)}"
        preset = PRESETS[preset_name]
        assert (int(named["layers"]), int(named["heads"]), int(named["width"])) == (
            preset.n_layers,
            preset.n_heads,
            preset.d_model,
        ), f"{shape}: the preset is {preset}"
        assert int(named["context"]) == context, f"{shape}: the run's context is {context}"
        data = "random" if preset_name != "chapter08" else "corpus"  # as benchmarks/speed.py chooses
        vocab = len(corpus_stream()[1]) if data == "corpus" else preset.vocab_size or 64  # as train() does
        assert int(named["vocab"]) == vocab, f"{shape}: the run's vocabulary has {vocab} tokens"
        with torch.device("meta"):
            model = build_model(TrainConfig(preset=preset_name, data=data, context=context), vocab)
        count = sum(p.numel() for p in model.parameters())
        assert parameters == f"{count:,}", f"{shape}: README.md says {parameters} parameters, the model has {count:,}"


def test_the_readme_benchmark_counts_are_those_of_the_shapes_they_name():
    check_counts(README.read_text())
