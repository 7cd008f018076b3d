"""``delbench new-selector NAME``: write a ready-to-install selector plugin package.

The package is what docs/writing-a-selector.md describes: a ``pyproject.toml`` with the entry point,
one module with the hook and a ``select`` skeleton, one test file running delbench's contract checks,
and a README. Templates live here as strings so the scaffold needs no package data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from delbench.errors import DelbenchError

DOCS_POINTER = "docs/writing-a-selector.md"
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Names:
    """Every spelling of one selector name the package needs."""

    selector: str  # my-sel: what users type (`delbench select my-sel`)
    distribution: str  # delbench-my-sel: what pip installs
    module: str  # delbench_my_sel: what Python imports
    cls: str  # MySelSelector


def names_for(name: str) -> Names:
    """Check ``name`` and derive the package, module and class names from it."""
    if not _NAME_RE.match(name or ""):
        raise DelbenchError(
            f"selector name {name!r} is not valid: use lowercase letters, digits and single dashes, "
            "starting with a letter (e.g. quality-filter)"
        )
    bare = name[len("delbench-"):] if name.startswith("delbench-") and len(name) > len("delbench-") else name
    parts = name.split("-")
    return Names(
        selector=name,
        distribution=f"delbench-{bare}",
        module="delbench_" + bare.replace("-", "_"),
        cls="".join(p.capitalize() for p in parts) + "Selector",
    )


_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "The {selector} data selector for delbench"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["delbench", "numpy"]

[project.optional-dependencies]
test = ["pytest"]

# This line is what makes delbench find the selector once the package is installed.
[project.entry-points.delbench]
{selector} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
'''

_MODULE = '''\
"""``{selector}``: one line saying which pool items this selector keeps, and why.

See {docs} in delbench for the contract, parameters and testing.
"""
from __future__ import annotations

from delbench import hookimpl
from delbench.selection import Selection, SelectionRequest


class {cls}:
    """Describe the method in one line; `delbench plugins` shows this line."""

    name = "{selector}"

    # Every keyword argument is a parameter users can set: `--param example_param=...`.
    def __init__(self, example_param: float = 1.0) -> None:
        self.example_param = float(example_param)

    def select(self, request: SelectionRequest) -> Selection:
        # request.embeddings: read-only float32 [N, D]; request.pool: manifest rows (or None);
        # request.load_images(indices): HxWx3 uint8 arrays (or None); request.rng(): seeded generator.
        # Return exactly request.target_count pool indices (round(ratio * N)).
        raise NotImplementedError("{selector}.select is not written yet: see {docs} in delbench")


@hookimpl
def delbench_register_selectors(register):
    register({cls})
'''

_TEST = '''\
from __future__ import annotations

import numpy as np
from delbench.testing import check_selector, make_request


def test_contract():
    # The same checks delbench runs on its built-in selectors.
    check_selector("{selector}")


def test_keeps_target_count():
    from {module} import {cls}

    request = make_request(0.25, seed=1, n=200)
    selection = {cls}().select(request)
    assert np.unique(selection.indices).size == request.target_count
'''

_CONFTEST = '''\
# Fixtures delbench_embeddings, delbench_pool, delbench_request and delbench_register.
pytest_plugins = ["delbench.testing"]
'''

_README = '''\
# {distribution}

The `{selector}` data selector for delbench.

```bash
pip install -e .                          # registers the selector with delbench
delbench plugins                          # {selector} is listed
pytest                                    # delbench's selector contract tests
delbench select {selector} --embeddings emb.npy --ratio 0.3 --out subset.npy
delbench compare {selector} meddel --protocol ci
```

Parameters (`--param key=value`): `example_param` (default 1.0).
'''


def render(name: str) -> dict[str, str]:
    """The package's files, relative path -> text."""
    n = names_for(name)
    fields = {"selector": n.selector, "distribution": n.distribution, "module": n.module, "cls": n.cls,
              "docs": DOCS_POINTER}
    return {
        "pyproject.toml": _PYPROJECT.format(**fields),
        f"{n.module}.py": _MODULE.format(**fields),
        "conftest.py": _CONFTEST,
        f"tests/test_{n.module}.py": _TEST.format(**fields),
        "README.md": _README.format(**fields),
    }


def scaffold(name: str, out: str | Path = ".") -> Path:
    """Write the package for selector ``name`` into ``out/<distribution>``; refuse to overwrite anything."""
    from delbench.store.atomic import atomic_dir

    files = render(name)
    target = Path(out) / names_for(name).distribution
    if target.exists() or target.is_symlink():
        raise DelbenchError(f"{target} already exists: pick another name or --out directory, or remove it first")
    # Built in a temp directory and renamed into place, so an interrupted run leaves nothing behind.
    with atomic_dir(target) as tmp:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return target
