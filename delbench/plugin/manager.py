"""The plugin facade: a pluggy manager built on first use (never at import time), its registries and
the switches that control loading.

Environment switches:

* ``DELBENCH_PLUGINS=a,b`` loads only the entry points named ``a`` and ``b``.
* ``DELBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` loads no entry point at all (only plugins added in code).
* ``DELBENCH_TRACE_HOOKS=1`` prints every hook call to stderr.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Iterator

import pluggy

from delbench.plugin import hookspecs
from delbench.errors import DelbenchError
from delbench.plugin.registry import Entry, Registry

ENTRY_POINT_GROUP = "delbench"
ENV_ONLY = "DELBENCH_PLUGINS"
ENV_DISABLE = "DELBENCH_DISABLE_PLUGIN_AUTOLOAD"
ENV_TRACE = "DELBENCH_TRACE_HOOKS"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    package: str
    version: str
    hooks: tuple[str, ...]
    path: str = ""  # the file the plugin was loaded from: tells an installed copy from a checkout

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "package": self.package, "version": self.version, "hooks": list(self.hooks),
                "path": self.path}


class Plugins:
    """A loaded plugin manager with the selector and dataset registries its hooks filled."""

    def __init__(self, pm: pluggy.PluginManager, origins: dict[str, tuple[str, str]],
                 replacing: frozenset[str] = frozenset()) -> None:
        self.pm = pm
        self._origins = origins
        self._replacing = replacing  # plugins whose registrations override installed names
        self._registries: dict[str, Registry[Any]] = {}

    def info(self) -> list[PluginInfo]:
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            package, version = self._origins.get(name, ("?", "?"))
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or []))
            out.append(PluginInfo(name, package, version, hooks, plugin_path(plugin)))
        return out

    def paths(self) -> dict[str, str]:
        """Plugin name -> the file it was loaded from."""
        return {name: plugin_path(plugin) for name, plugin in self.pm.list_name_plugin()}

    @property
    def selectors(self) -> Registry[Any]:
        from delbench.references import REFERENCES

        from delbench.select.pipeline import SEP, pipeline_entry

        return self._registry("delbench_register_selectors", "selector", REFERENCES, (SEP, pipeline_entry))

    @property
    def datasets(self) -> Registry[Any]:
        return self._registry("delbench_register_datasets", "dataset format")

    def _registry(self, hook: str, kind: str, reserved: tuple[str, ...] = (), compose: Any = None) -> Registry[Any]:
        if hook not in self._registries:
            registry: Registry[Any] = Registry(kind, reserved, compose)
            plugins = self.pm.get_plugins()
            # Replacing plugins go last, so what they register overrides rather than clashes.
            ordered = sorted(self.pm.list_name_plugin(), key=lambda item: item[0] in self._replacing)
            # One plugin at a time, so a failure or a duplicate name is pinned on the plugin at fault.
            for name, plugin in ordered:
                caller = self.pm.subset_hook_caller(hook, [p for p in plugins if p is not plugin])
                package, version = self._origins.get(name, ("?", "?"))
                register = _make_register(registry, kind, name, package, version, replace=name in self._replacing)
                try:
                    caller(register=register)
                except Exception as exc:  # noqa: BLE001 - any failure becomes one clear line
                    raise _plugin_error(name, package, exc) from exc
            self._registries[hook] = registry
        return self._registries[hook]


def plugin_path(plugin: object) -> str:
    """The source file of a plugin: a module's own file, else the file defining its class."""
    target = plugin if inspect.ismodule(plugin) or inspect.isclass(plugin) else type(plugin)
    try:
        path = inspect.getsourcefile(target) or inspect.getfile(target)  # type: ignore[arg-type]
    except (TypeError, OSError):  # built-in or generated objects have no file
        return ""
    return os.path.realpath(path)


def _make_register(registry: Registry[Any], kind: str, plugin: str, package: str, version: str,
                   replace: bool = False) -> Callable[..., None]:
    def register(factory: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        entry_name = name or getattr(factory, "name", None)
        if not entry_name or not isinstance(entry_name, str):
            raise DelbenchError(f"registered {kind} {factory!r} has no name: set a `name` attribute or pass name=")
        doc = description or (getattr(factory, "__doc__", None) or "").strip().splitlines()[:1]
        registry.add(Entry(kind, entry_name, factory, doc if isinstance(doc, str) else "".join(doc), plugin, package, version),
                     replace=replace)

    return register


def _plugin_error(name: str, package: str, exc: BaseException) -> DelbenchError:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return DelbenchError(
        f'Error loading delbench plugin "{name}" (from package {package}): {type(exc).__name__}: {detail} '
        f"(uninstall it, or set {ENV_ONLY} to the plugins you want)"
    )


_extra: list[tuple[str, object, bool]] = []  # (name, plugin, replace)
_current: Plugins | None = None


def load_plugins(*, autoload: bool | None = None, only: list[str] | None = None) -> Plugins:
    """Build a fresh plugin manager: entry points (subject to the env switches) plus in-code plugins."""
    pm = pluggy.PluginManager("delbench")
    pm.add_hookspecs(hookspecs)
    origins: dict[str, tuple[str, str]] = {}
    if autoload is None:
        autoload = os.environ.get(ENV_DISABLE, "").strip().lower() not in {"1", "true", "yes"}
    if only is None and os.environ.get(ENV_ONLY, "").strip():
        only = [s.strip() for s in os.environ[ENV_ONLY].split(",") if s.strip()]
    if autoload:
        # delbench's own plugins first, so a duplicate name is blamed on the newcomer
        eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP),
                     key=lambda e: (e.dist is None or e.dist.metadata["Name"] != "delbench", e.name))
        for ep in eps:
            if only is not None and ep.name not in only:
                continue
            if pm.get_plugin(ep.name) is not None:
                continue
            dist = ep.dist
            package = dist.metadata["Name"] if dist is not None else "?"
            version = dist.version if dist is not None else "?"
            try:
                module = ep.load()
                pm.register(module, name=ep.name)
            except Exception as exc:  # noqa: BLE001
                raise _plugin_error(ep.name, package, exc) from exc
            origins[ep.name] = (package, version)
    for name, plugin, _ in _extra:
        pm.register(plugin, name=name)
        origins[name] = (getattr(plugin, "__package__", None) or "(in code)", "-")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = getattr(exc, "plugin_name", None) or "?"
        raise _plugin_error(name, origins.get(name, ("?", "?"))[0], exc) from exc
    if os.environ.get(ENV_TRACE, "").strip():
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return Plugins(pm, origins, frozenset(name for name, _, replace in _extra if replace))


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded on first call."""
    global _current
    if _current is None:
        _current = load_plugins()
    return _current


def reset() -> None:
    """Forget the loaded plugins; the next ``get_plugins()`` reloads (env switches are re-read)."""
    global _current
    _current = None


@contextlib.contextmanager
def temporary_plugin(plugin: object, name: str, *, replace: bool = False) -> Iterator[Plugins]:
    """Register ``plugin`` (a module or object with hookimpls) for the duration of the block.

    With ``replace``, what it registers overrides entries of the same name from other plugins instead
    of clashing with them (a development copy tested under an installed selector's name); the
    others' remaining registrations are untouched, and everything is back after the block.
    """
    item = (name, plugin, replace)
    _extra.append(item)
    reset()
    try:
        yield get_plugins()
    finally:
        _extra.remove(item)
        reset()
