"""Hook specifications: the whole plugin API of delbench.

A plugin is a module (or object) exposing functions decorated with ``delbench.hookimpl`` whose names
match the specs below, registered through the ``delbench`` entry-point group::

    [project.entry-points.delbench]
    mine = "delbench_mine"

Every hook receives a ``register`` callable and calls it once per thing it provides. Hooks must be
cheap: no torch/faiss import and no I/O at registration time (import heavy modules inside ``select``).
docs/hooks.md is rendered from these docstrings.
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("delbench")
hookimpl = pluggy.HookimplMarker("delbench")


@hookspec
def delbench_register_selectors(register: Callable[..., None]) -> None:
    """Register data selectors.

    Call ``register(factory, name=None, description=None)`` once per selector. ``factory`` is a class
    (or callable) whose keyword arguments are the selector's parameters, each with a default; calling
    it returns an object with a ``name`` and a ``select(request: SelectionRequest) -> Selection``
    method (see ``delbench.selection``). ``name`` defaults to ``factory.name``; ``description``
    defaults to the first line of the factory's docstring. Names are unique across all plugins.
    """


@hookspec
def delbench_register_datasets(register: Callable[..., None]) -> None:
    """Register dataset formats that ``delbench data import FORMAT`` can read.

    Call ``register(adapter, name=None, description=None)`` once per on-disk format. ``adapter`` is a
    class (or callable) whose keyword arguments are the format's options; calling it returns an object
    with a ``name`` and a ``scan(src: Path) -> ScanResult`` method that lists the images (and masks)
    found under ``src`` in that format (see ``delbench.data.adapters``). Names are unique.
    """


def _hook_names() -> list[str]:
    return [name for name, value in globals().items() if name.startswith("delbench_") and callable(value)]


HOOK_NAMES: tuple[str, ...] = tuple(_hook_names())
__all__: list[Any] = ["hookspec", "hookimpl", "HOOK_NAMES", *HOOK_NAMES]
