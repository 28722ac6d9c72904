"""`make bench`, as README.md writes it, picks its quick mode on a CPU and prints both tables with a number in
every cell it measures."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_prints_its_tables():
    from tests.test_docs_commands import run_as_written

    result = run_as_written("make bench", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "quick mode" in out and "| shape | parameters |" in out and "| length | naive ms |" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"chapter08", "shakespeare-char", "gpt2-124m", "256", "512", "1,024"} <= set(rows)
    assert re.search(r"\| gpt2-124m \| 123,787,776 \| 1 x 128 \| [\d,.]+ \| n/a \|", out)
    for length in ("256", "512", "1,024"):
        numbers = [float(c.replace(",", "")) for c in rows[length].split("|")[2:-1]]
        assert len(numbers) == 5 and all(n >= 0 for n in numbers) and numbers[0] > 0
    assert float(rows["1,024"].split("|")[3].replace(",", "")) > float(rows["1,024"].split("|")[5].replace(",", ""))
