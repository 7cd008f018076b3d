"""Dataset adapters: one module per published on-disk layout.

An adapter is a class whose keyword arguments are the format's options (``--option k=v``); an
instance has a ``name`` and ``scan(src: Path) -> ScanResult``, listing the images (and masks) found
under ``src``. Adapters only list files: ``delbench.data.importer`` decodes, checks, hashes and
writes. Built-in formats register through ``delbench.data.adapters.builtin``, a plugin like any
other, so a third-party package adds a format with the same hook::

    from delbench import hookimpl

    class MyFormat:
        name = "my-format"
        def scan(self, src): ...

    @hookimpl
    def delbench_register_datasets(register):
        register(MyFormat)
"""
from __future__ import annotations

from delbench.data.adapters.base import IMAGE_EXTS, Item, PairedAdapter, ScanResult

__all__ = ["IMAGE_EXTS", "Item", "PairedAdapter", "ScanResult"]
