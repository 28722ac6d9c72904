"""tinyformer.runtime: run seeds and thread counts from the environment, and the Reproduced checks that
`python -m grader experiments` collects."""

import json

import pytest
import torch

from grader.experiments import Run, claims_table, failed, timing_table
from tinyformer.runtime import Reproduced, seed_everything, set_threads


def test_the_run_seed_changes_every_draw_and_zero_is_the_published_run(monkeypatch):
    monkeypatch.delenv("TINYFORMER_SEED", raising=False)
    published = seed_everything(3)
    published_draw = torch.rand(3, generator=published), torch.rand(3)
    monkeypatch.setenv("TINYFORMER_SEED", "0")
    again = seed_everything(3)
    assert torch.equal(torch.rand(3, generator=again), published_draw[0]) and torch.equal(
        torch.rand(3), published_draw[1]
    )
    monkeypatch.setenv("TINYFORMER_SEED", "1")
    other = seed_everything(3)
    assert not torch.equal(torch.rand(3, generator=other), published_draw[0])
    assert not torch.equal(torch.rand(3), published_draw[1])


def test_threads_come_from_the_environment_when_set(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("TINYFORMER_THREADS", raising=False)
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("TINYFORMER_THREADS", "2")
        assert set_threads(1) == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("TINYFORMER_THREADS", "two")
        with pytest.raises(ValueError, match="TINYFORMER_THREADS"):
            set_threads(1)
    finally:
        torch.set_num_threads(before)


def test_reproduced_records_every_claim_with_its_margin_and_names_the_failures(tmp_path, monkeypatch, capsys):
    claims = tmp_path / "claims.jsonl"
    monkeypatch.setenv("TINYFORMER_CLAIMS", str(claims))
    monkeypatch.setenv("TINYFORMER_SEED", "2")
    check = Reproduced("99-example")
    check.at_least("accuracy", 0.97, 0.95)
    check.at_most("loss", 0.4, 0.5)
    check.done()
    assert "Reproduced: all 2 claims" in capsys.readouterr().out
    failing = Reproduced("99-example")
    failing.at_least("accuracy", 0.9, 0.95)
    failing.at_most("loss", float("nan"), 0.5)
    with pytest.raises(AssertionError, match=r"accuracy = 0\.9, expected >= 0\.95.*loss = nan"):
        failing.done()
    rows = [json.loads(line) for line in claims.read_text().splitlines()]
    assert [(r["claim"], r["seed"]) for r in rows] == [("accuracy", 2), ("loss", 2), ("accuracy", 2), ("loss", 2)]
    assert rows[0]["margin"] == pytest.approx(0.02) and rows[1]["margin"] == pytest.approx(0.1)
    assert rows[2]["margin"] == pytest.approx(-0.05) and rows[3]["margin"] == float("-inf")


def test_the_experiments_tables_show_each_run_and_the_least_margin():
    def claim(value, seed):
        return {
            "claim": "accuracy",
            "value": value,
            "bound": 0.95,
            "direction": ">=",
            "margin": value - 0.95,
            "seed": seed,
            "threads": 1,
        }

    runs = [Run("06-encoder", 0, 1, 50.0, [claim(1.0, 0)]), Run("06-encoder", 1, 1, 130.0, [claim(0.9, 1)])]
    table = claims_table(runs)
    assert "| 06-encoder | accuracy | >= 0.95 | 1 | 0.9 FAIL | -0.05 |" in table
    assert "over the 120 s budget" in timing_table(runs)
    assert failed(runs) == ["06-encoder seed 1, 1 thread(s): accuracy"]
    assert failed([Run("06-encoder", 0, 1, 1.0)]) == ["06-encoder seed 0, 1 thread(s): the notebook recorded no claim"]
