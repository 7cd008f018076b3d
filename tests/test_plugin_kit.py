"""delbench.testing: the helpers plugin authors use must pass good selectors and catch bad ones."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from delbench import hookimpl
from delbench.cli import cli
from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins, temporary_plugin
from delbench.selection import Selection, SelectionRequest
from delbench.testing import (
    check_selector,
    delbench_embeddings,  # noqa: F401 - fixtures, used by name below
    delbench_pool,  # noqa: F401
    delbench_register,  # noqa: F401
    delbench_request,  # noqa: F401
    make_image_loader,
    make_request,
    registered_selector,
)


class Good:
    """Seeded uniform sample that records what it dropped."""

    name = "kit-good"

    def __init__(self, salt: int = 0) -> None:
        self.salt = int(salt)

    def select(self, request: SelectionRequest) -> Selection:
        return self.select_many(request, [request.ratio])[request.ratio]

    def select_many(self, request: SelectionRequest, ratios: list[float]) -> dict[float, Selection]:
        order = np.random.default_rng([request.seed, self.salt]).permutation(request.n)
        out = {}
        for r in ratios:
            k = max(1, round(r * request.n))
            out[r] = Selection(indices=order[:k], reasons={"sampled-out": order[k:]}, info={"salt": np.int64(self.salt)})
        return out


def broken(**overrides):
    """A ``Good`` subclass whose ``select`` is replaced by ``overrides['select']``."""
    return type("Broken", (Good,), {"name": "kit-bad", **overrides})


def test_good_selector_passes_and_is_unregistered_after() -> None:
    with registered_selector(Good) as entry:
        assert entry.name == "kit-good" and entry.description.startswith("Seeded uniform")
        check_selector("kit-good")
        check_selector("kit-good", params={"salt": 7}, ratios=(0.1, 0.9), n=120)
    assert "kit-good" not in get_plugins().selectors


def test_registered_selector_with_explicit_name() -> None:
    with registered_selector(lambda: Good(), name="kit-lambda", description="made in a test") as entry:
        assert entry.description == "made in a test"
        assert get_plugins().selectors.get("kit-lambda").create().name == "kit-good"


def test_registered_selector_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        with registered_selector(lambda: Good()):
            pass


def test_wrong_name_on_instance() -> None:
    with registered_selector(Good, name="kit-alias"), pytest.raises(AssertionError, match="has name 'kit-good'"):
        check_selector("kit-alias")


def _always(indices_fn, **extra):
    def select(self, request):
        return Selection(indices=indices_fn(request), **extra)

    return select


@pytest.mark.parametrize(
    ("select", "error", "match"),
    [
        (_always(lambda r: np.arange(r.target_count + 5)), DelbenchError, "expected"),
        (_always(lambda r: np.zeros(r.target_count, dtype=int)), DelbenchError, "more than once"),
        (_always(lambda r: np.arange(r.target_count) + 0.0), DelbenchError, "dtype"),
        (lambda self, r: list(range(r.target_count)), AssertionError, "not Selection"),
        (_always(lambda r: np.random.default_rng().permutation(r.n)[: r.target_count]), AssertionError, "deterministic"),
        (_always(lambda r: np.arange(r.target_count), reasons={"outlier": np.array([0])}), AssertionError, "also kept"),
        (_always(lambda r: np.arange(r.target_count), reasons={"outlier": np.array([10**6])}), AssertionError, "outside"),
        (_always(lambda r: np.arange(r.target_count), info={"when": object()}), AssertionError, "JSON"),
    ],
    ids=["count", "duplicates", "floats", "not-selection", "unseeded", "reason-kept", "reason-range", "info"],
)
def test_check_selector_catches(select, error, match) -> None:
    # One ratio, so only select is under test (select_many is checked across ratios).
    with registered_selector(broken(select=select)), pytest.raises(error, match=match):
        check_selector("kit-bad", ratios=(0.2,))


def test_check_selector_catches_modified_embeddings() -> None:
    def select(self, request):
        request.embeddings.flags.writeable = True
        request.embeddings[0] = 0.0
        return Selection(indices=np.arange(request.target_count))

    with registered_selector(broken(select=select)), pytest.raises(AssertionError, match="modified the embeddings"):
        check_selector("kit-bad", ratios=(0.2,))


def test_check_selector_catches_select_many_disagreeing() -> None:
    def select(self, request):
        return Selection(indices=np.arange(request.target_count))

    with registered_selector(broken(select=select)), pytest.raises(AssertionError, match="select_many and select disagree"):
        check_selector("kit-bad", ratios=(0.2, 0.5))


def test_check_selector_unknown_name_hints_at_installing() -> None:
    with pytest.raises(DelbenchError, match=r"unknown selector 'kit-nope'.*pip install -e \."):
        check_selector("kit-nope")


def test_make_request_is_complete_and_deterministic() -> None:
    a, b = make_request(0.3, seed=4, n=50), make_request(0.3, seed=4, n=50)
    assert a.n == 50 and a.target_count == 15 and len(a.pool) == 50
    assert not a.embeddings.flags.writeable
    assert np.allclose(np.linalg.norm(a.embeddings, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a.embeddings, b.embeddings)
    img_a, img_b = next(a.load_images([7])), next(b.load_images([7]))
    assert img_a.dtype == np.uint8 and img_a.shape == (32, 32, 3) and np.array_equal(img_a, img_b)
    with pytest.raises(IndexError):
        next(make_image_loader(5)([5]))


def test_fixtures(delbench_embeddings, delbench_pool, delbench_request, delbench_register) -> None:
    assert delbench_embeddings.shape == (600, 32) and len(delbench_pool) == 600
    assert delbench_request.ratio == 0.2 and delbench_request.pool is not None
    entry = delbench_register(Good)
    assert entry.name in get_plugins().selectors
    check_selector("kit-good", ratios=(0.5,), n=100)


def test_nested_registrations_unwind() -> None:
    with registered_selector(Good):
        with registered_selector(Good, name="kit-second"):
            assert {"kit-good", "kit-second"} <= set(get_plugins().selectors.names())
        assert "kit-second" not in get_plugins().selectors and "kit-good" in get_plugins().selectors
    assert "kit-good" not in get_plugins().selectors


def test_registered_selector_shows_in_cli() -> None:
    with registered_selector(Good):
        result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {s["name"]: s for s in json.loads(result.output)["selectors"]}
    assert listed["kit-good"]["params"] == {"salt": 0}


def test_one_plugin_can_register_several_selectors_and_clashes_are_refused() -> None:
    class Other(Good):
        name = "kit-other"

    class TwoSelectors:
        @hookimpl
        def delbench_register_selectors(self, register) -> None:
            register(Good)
            register(Other, description="the other one")

    with temporary_plugin(TwoSelectors(), name="kit-two") as loaded:
        assert {"kit-good", "kit-other"} <= set(loaded.selectors.names())
        assert loaded.selectors.get("kit-other").plugin == "kit-two"
        with temporary_plugin(TwoSelectors(), name="kit-two-again"):
            with pytest.raises(DelbenchError, match=r'plugin "kit-two-again".*already registered by plugin .kit-two.'):
                get_plugins().selectors


def test_register_datasets_hook_reaches_the_registry() -> None:
    class FakeFormat:
        """A fake on-disk layout."""

        name = "kit-format"

    class DatasetPlugin:
        @hookimpl
        def delbench_register_datasets(self, register) -> None:
            register(FakeFormat)

    with temporary_plugin(DatasetPlugin(), name="kit-datasets") as loaded:
        entry = loaded.datasets.get("kit-format")
        assert entry.plugin == "kit-datasets" and entry.description == "A fake on-disk layout."
        assert "delbench_register_datasets" in {h for p in loaded.info() if p.name == "kit-datasets" for h in p.hooks}
    assert "kit-format" not in get_plugins().datasets
