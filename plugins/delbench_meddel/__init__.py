"""``meddel``: placeholder until implemented."""
from __future__ import annotations
from delbench import hookimpl
class MedDEL:
    """The paper's baseline (in progress)."""
    name = "meddel"
    def select(self, request):
        raise NotImplementedError
@hookimpl
def delbench_register_selectors(register):
    register(MedDEL)
