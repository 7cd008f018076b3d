from __future__ import annotations

import math

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.metrics import del_score, normdel


def test_hand_computed_values() -> None:
    assert del_score(0.8, 0.05) == pytest.approx(0.8 * math.exp(-0.05))
    assert del_score(0.5, 1.0, alpha=2.0) == pytest.approx(0.5 * math.exp(-2.0))
    assert normdel(0.8, 0.05) == pytest.approx(1.0 / (1.0 + math.exp(-0.8 * math.exp(-0.05))))
    assert normdel(0.0, 0.3) == pytest.approx(0.5)
    # scratch reference: R = 0 keeps the full mIoU
    assert del_score(0.7, 0.0) == pytest.approx(0.7)
    assert isinstance(normdel(0.8, 0.05), float)


def test_vectorised_and_broadcast() -> None:
    miou = np.array([0.6, 0.7, 0.8])
    ratio = np.array([0.05, 0.5, 1.0])
    got = normdel(miou, ratio)
    want = [1.0 / (1.0 + math.exp(-m * math.exp(-r))) for m, r in zip(miou, ratio)]
    np.testing.assert_allclose(got, want)
    assert del_score(miou, 0.2).shape == (3,)
    assert normdel([[0.1, 0.2]], [[0.1], [0.9]]).shape == (2, 2)


@pytest.mark.parametrize(
    "miou,ratio,alpha,match",
    [
        (1.2, 0.5, 1.0, "miou"),
        (-0.1, 0.5, 1.0, "miou"),
        (float("nan"), 0.5, 1.0, "miou"),
        (75.0, 0.5, 1.0, "percentage"),
        (0.5, 1.5, 1.0, "ratio"),
        (0.5, -0.01, 1.0, "ratio"),
        (0.5, 0.5, 0.0, "alpha"),
        (0.5, 0.5, -1.0, "alpha"),
        (np.array([0.5, 2.0]), 0.5, 1.0, "miou"),
    ],
)
def test_rejects_bad_inputs(miou, ratio, alpha, match) -> None:
    with pytest.raises(DelbenchError, match=match):
        normdel(miou, ratio, alpha)
    with pytest.raises(DelbenchError, match=match):
        del_score(miou, ratio, alpha)
