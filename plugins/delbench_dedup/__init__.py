"""``dedup``: placeholder until implemented."""
from __future__ import annotations
from delbench import hookimpl
class SemDeDup:
    """The paper's baseline (in progress)."""
    name = "dedup-only"
    def select(self, request):
        raise NotImplementedError
@hookimpl
def delbench_register_selectors(register):
    register(SemDeDup)
