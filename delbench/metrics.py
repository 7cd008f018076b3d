"""Public home of the score (``normdel``, ``del_score``); it lives in ``delbench.score.normdel``."""
from delbench.score.normdel import *  # noqa: F401,F403
from delbench.score.normdel import __all__  # noqa: F401
