"""Public home of the selector contract (``Selection``, ``SelectionRequest``); it lives in
``delbench.select.contract``."""
from delbench.select.contract import *  # noqa: F401,F403
from delbench.select.contract import __all__  # noqa: F401
