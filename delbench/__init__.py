"""delbench: a data-effective learning benchmark for pre-training medical imaging foundation models."""
from __future__ import annotations

__version__ = "0.1.0"

# Before anything can import huggingface_hub, which reads its offline switch only once.
from delbench.offline import prefer_offline  # noqa: E402

prefer_offline()

from delbench.plugin.hookspecs import hookimpl  # noqa: E402  (plugins write `from delbench import hookimpl`)

__all__ = ["__version__", "hookimpl"]
