"""What implements a registered thing, as a hash of its source: cached results are keyed by it, so an
edited selector (an editable install included) or a different one under the same name is rerun."""
from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any, Callable

# The harness code every selector runs through or may call (the contract, pipelines, the shared
# similarity tools): a change there can change a subset as much as an edit of the selector itself.
SELECTION_CODE: tuple[str, ...] = ("delbench.select", "delbench.selection")


def implementation_hash(factory: Callable[..., Any]) -> str:
    """The sha256 of ``factory``'s qualified name and of the source files it comes from.

    The files are the whole top-level package the defining module belongs to (its helper modules
    matter as much as the class), or the module file alone when it is not part of a package. A
    factory without a source file (defined in a REPL, a builtin) is hashed by its name and, where
    Python can still find it, its source text. Never raises.
    """
    target = _unwrap(factory)
    digest = hashlib.sha256(_qualified_name(target).encode())
    files = _source_files(target)
    if files:
        _hash_files(digest, files)
    else:
        digest.update(b"\0source\0" + _source_text(target).encode())
    return digest.hexdigest()


def code_hash(modules: tuple[str, ...] = SELECTION_CODE) -> str:
    """The sha256 of the source files of ``modules`` (a package: every file under it), by default the
    harness's selection code. Never raises: a module that cannot be found is hashed by its name."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(f"\0module\0{name}".encode())
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        init = getattr(module, "__file__", None)
        if not init:
            continue
        path = Path(init).resolve()
        if path.name == "__init__.py":
            files = sorted(p for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts and p.is_file())
            _hash_files(digest, [(path.parent, p) for p in files])
        else:
            _hash_files(digest, [(path.parent, path)])
    return digest.hexdigest()


def _hash_files(digest: Any, files: list[tuple[Path, Path]]) -> None:
    for root, path in files:
        # relative path and length before the bytes, so moving a byte across files changes the hash
        try:
            data = path.read_bytes()
        except OSError:  # vanished or unreadable since the walk: still hash its name
            data = b""
        digest.update(f"\0{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)


def _unwrap(factory: Any) -> Any:
    while isinstance(factory, functools.partial):
        factory = factory.func
    try:
        factory = inspect.unwrap(factory)
    except ValueError:  # a __wrapped__ cycle: hash what we were given
        pass
    if not (inspect.isclass(factory) or inspect.isroutine(factory)):
        # a callable instance: its class holds the code
        factory = type(factory)
    return factory


def _qualified_name(target: Any) -> str:
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', None) or getattr(target, '__name__', repr(target))}"


def _source_files(target: Any) -> list[tuple[Path, Path]]:
    """(root, file) pairs in a stable order; empty when there is no readable source file."""
    try:
        source = inspect.getsourcefile(target)
    except (TypeError, OSError):
        return []
    if not source or not Path(source).is_file():
        return []
    source_path = Path(source).resolve()
    package_dir = _package_dir(getattr(target, "__module__", None) or "", source_path)
    if package_dir is None:
        return [(source_path.parent, source_path)]
    try:
        files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts and p.is_file())
    except OSError:
        return [(source_path.parent, source_path)]
    return [(package_dir, p) for p in files]


def _package_dir(module_name: str, source: Path) -> Path | None:
    """The directory of the regular top-level package holding ``source``, if there is one."""
    top = sys.modules.get(module_name.partition(".")[0])
    init = getattr(top, "__file__", None)
    if not init or Path(init).name != "__init__.py":
        return None
    directory = Path(init).resolve().parent
    return directory if source.is_relative_to(directory) else None


def _source_text(target: Any) -> str:
    try:
        return inspect.getsource(target)
    except (TypeError, OSError):
        return ""
