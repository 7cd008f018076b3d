"""Selector pipelines (``quality>meddel``): screens remove what they find bad, the last stage meets
the budget, reasons are kept per stage, and parameters reach their stage."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.selection import Selection, SelectionRequest, SelectsMany, target_count
from delbench.testing import check_selector, make_request, registered_selector


class LowFirst(SelectsMany):
    """A screen that removes every pool item whose first embedding coordinate ranks in the lowest
    ``share``; as a budget-meeting stage it keeps the highest first coordinates."""

    name = "lowfirst"

    def __init__(self, share: float = 0.4) -> None:
        self.share = share

    def _order(self, request: SelectionRequest) -> np.ndarray:
        return np.argsort(request.embeddings[:, 0], kind="stable")  # lowest first

    def screen(self, request: SelectionRequest) -> Selection:
        order = self._order(request)
        cut = int(self.share * request.n)
        return Selection(indices=np.sort(order[cut:]), reasons={"low": order[:cut]})

    def select_many(self, request, ratios):
        order = self._order(request)
        out = {}
        for r in ratios:
            keep = target_count(r, request.n)
            out[r] = Selection(indices=np.sort(order[request.n - keep:]), reasons={"low": order[: request.n - keep]})
        return out


class KeepFirst(SelectsMany):
    """The last stage: keeps the lowest pool rows it is given (so it shows what it was given)."""

    name = "keepfirst"

    def select_many(self, request, ratios):
        return {r: Selection(indices=np.arange(target_count(r, request.n)),
                             reasons={"late": np.arange(target_count(r, request.n), request.n)}) for r in ratios}


@pytest.fixture
def stages():
    with registered_selector(LowFirst), registered_selector(KeepFirst):
        yield get_plugins().selectors


def test_builtin_pipeline_meets_the_contract():
    check_selector("quality>meddel")


def test_screen_runs_first_and_last_stage_meets_the_budget(stages):
    request = make_request(0.3, n=200)
    entry = stages.get("lowfirst>keepfirst")
    answer = entry.create().select(request)
    low = np.argsort(request.embeddings[:, 0], kind="stable")[:80]
    assert answer.indices.size == 60
    assert not np.isin(answer.indices, low).any()  # nothing the screen removed comes back
    survivors = np.setdiff1d(np.arange(200), low)
    assert np.array_equal(answer.indices, survivors[:60])  # the last stage chose among the survivors
    assert set(answer.reasons) == {"lowfirst:low", "keepfirst:late"}
    assert np.array_equal(np.sort(answer.reasons["lowfirst:low"]), np.sort(low))
    assert answer.info["budget_met_by"] == "keepfirst"


def test_a_screen_that_leaves_too_few_meets_the_budget_itself(stages):
    request = make_request(0.8, n=200)
    answer = stages.get("lowfirst>keepfirst").create().select(request)
    assert answer.indices.size == 160
    top = np.argsort(request.embeddings[:, 0], kind="stable")[40:]
    assert np.array_equal(answer.indices, np.sort(top))  # the screen's own ranking
    assert answer.info["budget_met_by"] == "lowfirst"


def test_select_many_agrees_with_select(stages):
    check_selector("lowfirst>keepfirst", ratios=(0.1, 0.6, 0.9, 1.0), n=200)


def test_parameters_reach_their_stage(stages):
    entry = stages.get("lowfirst>keepfirst")
    assert entry.params() == {"lowfirst.share": 0.4}
    pipe = entry.create(**{"lowfirst.share": 0.1})
    assert pipe.stages[0][1].share == 0.1
    with pytest.raises(DelbenchError, match="no parameter 'share'.*STAGE.KEY"):
        entry.create(share=0.1)
    with pytest.raises(DelbenchError, match="'keepfirst' has no parameter 'share'"):
        entry.create(**{"keepfirst.share": 0.1})


def test_a_stage_that_cannot_screen_goes_last(stages):
    with pytest.raises(DelbenchError, match="stage 'keepfirst' cannot screen"):
        stages.get("keepfirst>lowfirst").create()


@pytest.mark.parametrize("name, message", [
    ("lowfirst>", "write it as STAGE>STAGE"),
    ("lowfirst>lowfirst", "names a stage twice"),
    ("lowfirst>nosuch", "unknown selector 'nosuch'"),
])
def test_malformed_pipelines_are_one_line(stages, name, message):
    with pytest.raises(DelbenchError, match=message):
        stages.get(name)


def test_a_selector_name_cannot_contain_the_separator():
    class Odd(KeepFirst):
        name = "a>b"

    with pytest.raises(DelbenchError, match="joins the stages of a pipeline"):
        with registered_selector(Odd):
            pass


def test_implementation_names_every_stage(stages):
    impl = stages.get("lowfirst>keepfirst").implementation()
    assert [s["source_sha256"] for s in impl["pipeline"]] == [
        stages.get("lowfirst").implementation()["source_sha256"], stages.get("keepfirst").implementation()["source_sha256"]]


def test_a_stage_warning_is_the_pipelines(stages):
    class Warns(KeepFirst):
        name = "warns"

        def select_many(self, request, ratios):
            out = super().select_many(request, ratios)
            for sel in out.values():
                sel.info["warnings"] = ["nothing was removed for cause"]
            return out

    with registered_selector(Warns):
        answer = get_plugins().selectors.get("lowfirst>warns").create().select(make_request(0.3, n=100))
    left = 100 - answer.info["lowfirst"]["screened_out"]
    assert answer.info["warnings"] == [f"warns stage, keeping 30 of the {left} items left to it: nothing was removed for cause"]
