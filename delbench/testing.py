"""Public home of the plugin kit: ``from delbench.testing import check_selector`` and
``pytest_plugins = ["delbench.testing"]``. It lives in ``delbench.plugin.testing``."""
from delbench.plugin.testing import *  # noqa: F401,F403
from delbench.plugin.testing import __all__  # noqa: F401
