"""delbench: a data-effective learning benchmark for pre-training medical imaging foundation models."""
from __future__ import annotations

__version__ = "0.1.0"

from delbench.hookspecs import hookimpl  # noqa: E402  (plugins write `from delbench import hookimpl`)

__all__ = ["__version__", "hookimpl"]
