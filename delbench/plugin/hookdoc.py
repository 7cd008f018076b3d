"""Render docs/hooks.md from ``delbench/plugin/hookspecs.py``, so the hook reference cannot drift from the code.

Regenerate after changing a hook spec::

    python -m delbench.plugin.hookdoc            # writes docs/hooks.md
    python -m delbench.plugin.hookdoc --check    # exits 1 if docs/hooks.md is stale
"""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any, Callable

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"

_HEADER = """\
# Hook reference

<!-- Generated from delbench/plugin/hookspecs.py by `python -m delbench.plugin.hookdoc`; do not edit by hand. -->

delbench's whole plugin API is the hooks below. A plugin is a module with functions decorated by
`delbench.hookimpl`, named after a hook, and listed under the `delbench` entry-point group:

```toml
[project.entry-points.delbench]
mine = "delbench_mine"
```

Every hook receives a `register` callable and calls it once per thing it provides; it must be
cheap (no torch/faiss import, no I/O). An implementation may accept a subset of the hook's
arguments. `delbench plugins` lists which hooks each installed plugin implements; set
`DELBENCH_TRACE_HOOKS=1` to see every hook call. For a walk-through, see
[writing-a-selector.md](writing-a-selector.md).
"""


def hook_functions() -> dict[str, Callable[..., Any]]:
    """The hook specs, by name, in the order ``hookspecs.HOOK_NAMES`` lists them."""
    from delbench.plugin import hookspecs

    return {name: getattr(hookspecs, name) for name in hookspecs.HOOK_NAMES}


def _annotation(value: Any) -> str:
    # hookspecs uses postponed annotations, so these are the source strings, which read best unquoted.
    if value is inspect.Parameter.empty or value is inspect.Signature.empty:
        return ""
    return value if isinstance(value, str) else inspect.formatannotation(value)


def format_signature(func: Callable[..., Any]) -> str:
    """``name(param: Type, ...) -> Return`` as written in the source, built from ``inspect.signature``."""
    sig = inspect.signature(func)
    params = []
    kinds = [p.kind for p in sig.parameters.values()]
    for i, p in enumerate(sig.parameters.values()):
        # the bare markers Python needs: `/` after positional-only, `*` before keyword-only (unless *args)
        if i and kinds[i - 1] is p.POSITIONAL_ONLY and p.kind is not p.POSITIONAL_ONLY:
            params.append("/")
        if p.kind is p.KEYWORD_ONLY and p.VAR_POSITIONAL not in kinds and (i == 0 or kinds[i - 1] is not p.KEYWORD_ONLY):
            params.append("*")
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text = "*" + text
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + text
        ann = _annotation(p.annotation)
        if ann:
            text += f": {ann}"
        if p.default is not p.empty:
            text += f" = {p.default!r}" if ann else f"={p.default!r}"
        params.append(text)
    if kinds and kinds[-1] is inspect.Parameter.POSITIONAL_ONLY:
        params.append("/")
    ret = _annotation(sig.return_annotation)
    return f"{func.__name__}({', '.join(params)})" + (f" -> {ret}" if ret else "")


def hook_doc(func: Callable[..., Any]) -> str:
    """The hook's docstring, dedented."""
    return inspect.cleandoc(func.__doc__ or "").strip()


def render() -> str:
    """The full text of docs/hooks.md."""
    parts = [_HEADER]
    for name, func in hook_functions().items():
        doc = hook_doc(func) or "(undocumented)"
        parts.append(f"## `{name}`\n\n```python\n{format_signature(func)}\n```\n\n{doc}\n")
    return "\n".join(parts)


def write(path: str | Path = DEFAULT_PATH) -> Path:
    from delbench.store.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(render())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delbench.plugin.hookdoc", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="where the reference goes")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the hook specs")
    args = parser.parse_args(argv)
    path = Path(args.path)
    if args.check:
        current = path.read_text() if path.is_file() else ""
        if current != render():
            print(f"{path} is out of date with delbench/plugin/hookspecs.py: run `python -m delbench.plugin.hookdoc`", file=sys.stderr)
            return 1
        return 0
    print(f"wrote {write(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
