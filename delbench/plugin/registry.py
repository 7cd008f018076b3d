"""A name -> entry registry that refuses duplicates and answers unknown names helpfully."""
from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from delbench.errors import DelbenchError
from delbench.plugin import provenance

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One registered thing: what makes it, and which plugin and package provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str
    package: str
    version: str

    def params(self) -> dict[str, Any]:
        """The factory's keyword parameters and their defaults (what ``--param key=value`` can set)."""
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):
            return {}
        return {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in sig.parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }

    def implementation(self) -> dict[str, str]:
        """Who provides this entry and a hash of its source: what cached results of it are keyed by, so
        another plugin under the same name, a new version or an edited source is never served stale.
        A selector's also hashes the harness's selection code (``provenance.SELECTION_CODE``), which
        it runs through and may call."""
        out = {
            "plugin": self.plugin,
            "package": self.package,
            "version": self.version,
            "source_sha256": provenance.implementation_hash(self.factory),
        }
        if self.kind == "selector":
            out["harness_sha256"] = provenance.code_hash(provenance.SELECTION_CODE)
        return out

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` checked and converted to the factory's annotated types (``delbench.plugin.paramtypes``);
        an unknown or ill-typed parameter is a one-line error naming it and what is accepted."""
        from delbench.plugin.paramtypes import coerce_params

        accepted = self.params()
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise DelbenchError(
                f"{self.kind} {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"accepted: {', '.join(accepted) or '(none)'}"
            )
        return coerce_params(self.kind, self.name, self.factory, params)

    def filled_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every parameter a run uses: the defaults, overridden by ``params`` (checked)."""
        return {**self.params(), **self.check_params(params)}

    def create(self, **params: Any) -> Any:
        """Instantiate with ``params``, checked first (see ``check_params``)."""
        return self.factory(**self.check_params(params))


@dataclass
class Registry(Generic[T]):
    kind: str
    reserved: tuple[str, ...] = ()  # names the harness itself uses for rows of the same tables
    # makes an entry for a composite name (a selector pipeline "a>b") from entries looked up by name
    compose: tuple[str, Callable[[str, Callable[[str], Entry]], Entry]] | None = None
    _entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry, replace: bool = False) -> None:
        """Add ``entry``; a name already taken is an error, unless ``replace`` and another plugin took it."""
        if self.compose is not None and self.compose[0] in entry.name:
            raise DelbenchError(f"{self.kind} name {entry.name!r} contains {self.compose[0]!r}, which joins the stages of "
                                "a pipeline; register it under another name")
        if entry.name in self.reserved:
            raise DelbenchError(f"{self.kind} name {entry.name!r} is reserved for delbench's own reference rows "
                                f"({', '.join(self.reserved)}); register it under another name")
        prev = self._entries.get(entry.name)
        if prev is not None and not (replace and prev.plugin != entry.plugin):
            raise DelbenchError(
                f"{self.kind} {entry.name!r} is already registered by plugin {prev.plugin!r} "
                f"(from package {prev.package})"
            )
        self._entries[entry.name] = entry

    def get(self, name: str) -> Entry:
        if self.compose is not None and self.compose[0] in name and name not in self._entries:
            return self.compose[1](name, self.get)
        try:
            return self._entries[name]
        except KeyError:
            raise DelbenchError(unknown_name_message(self.kind, name, list(self._entries))) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def unknown_name_message(kind: str, name: str, available: list[str]) -> str:
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return f"unknown {kind} {name!r}: {hint}available: {', '.join(sorted(available)) or '(none installed)'}"
