"""tinyformer.data: the generated tasks are well formed, seeded and reproducible."""

import pytest
import torch

from tinyformer.data import recall_batch


def test_recall_batch_layout():
    tokens, targets = recall_batch(50, 6, n_keys=4, n_distractors=5, generator=torch.Generator().manual_seed(0))
    assert tokens.shape == (50, 7) and targets.shape == (50,)
    assert tokens.dtype == targets.dtype == torch.int64
    assert torch.equal(targets, tokens[:, 0])
    assert ((0 <= targets) & (targets < 4)).all()
    assert ((4 <= tokens[:, 1:]) & (tokens[:, 1:] < 9)).all()
    assert len(targets.unique()) == 4  # every key occurs in 50 draws


def test_recall_batch_is_reproducible():
    a = recall_batch(8, 5, generator=torch.Generator().manual_seed(7))
    b = recall_batch(8, 5, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_recall_batch_distance_zero_is_the_key_alone():
    tokens, targets = recall_batch(3, 0)
    assert tokens.shape == (3, 1) and torch.equal(tokens[:, 0], targets)


@pytest.mark.parametrize(
    "kwargs",
    [dict(batch_size=0, distance=3), dict(batch_size=2, distance=-1), dict(batch_size=2, distance=1, n_keys=0)],
)
def test_recall_batch_refuses_bad_sizes_clearly(kwargs):
    with pytest.raises(ValueError, match="recall_batch needs"):
        recall_batch(**kwargs)
