"""``coreset``: placeholder until implemented."""
from __future__ import annotations
from delbench import hookimpl
class Coreset:
    """The paper's baseline (in progress)."""
    name = "coreset"
    def select(self, request):
        raise NotImplementedError
@hookimpl
def delbench_register_selectors(register):
    register(Coreset)
