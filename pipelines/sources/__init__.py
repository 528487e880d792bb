"""The sources: one module each, all implementing ``pipelines.sources.base.Source``.

The registry is found, not listed: every ``Source`` subclass defined in a module of this package, ordered as the
rows of ``seeds/reference/sources.csv`` (the order sources are listed and run in). Adding a source is its module
and its row in the seed; a module whose source has no seed row, a seed row without a module, two classes with one
id, or a class whose ``kind`` is not its row's, fails the import with a message naming the file to fix.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Mapping

from pipelines.reference import read_seed
from pipelines.sources.base import Source

SEED = "seeds/reference/sources.csv"


class SourceRegistryError(RuntimeError):
    """The source modules and the sources seed disagree."""


def source_classes(package: str = __name__) -> list[type[Source]]:
    """Every concrete ``Source`` subclass defined in a module of ``package`` (modules named ``_*`` aside)."""
    found = []
    for module_info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{package}.{module_info.name}")
        found += [value for value in vars(module).values()
                  if inspect.isclass(value) and issubclass(value, Source) and not inspect.isabstract(value)
                  and value.__module__ == module.__name__]
    return found


def build_registry(classes: Iterable[type[Source]], seed_rows: Iterable[Mapping[str, str]]) -> dict[str, Source]:
    """One instance per class, keyed by id, in the seed's order; SourceRegistryError where they disagree."""
    by_id: dict[str, type[Source]] = {}
    for cls in classes:
        where = f"{cls.__module__}.{cls.__qualname__}"
        if not isinstance(getattr(cls, "id", None), str) or not cls.id:
            raise SourceRegistryError(f"{where} has no id")
        if cls.id in by_id:
            other = by_id[cls.id]
            raise SourceRegistryError(f"{where} and {other.__module__}.{other.__qualname__} both have id {cls.id!r}")
        by_id[cls.id] = cls
    rows = {row["source"]: row for row in seed_rows}
    unlisted = [cls for source_id, cls in by_id.items() if source_id not in rows]
    if unlisted:
        raise SourceRegistryError("; ".join(
            f"source {cls.id!r} ({cls.__module__}) has no row in {SEED}: add one (source,kind,description,…)"
            for cls in unlisted))
    orphans = [source_id for source_id in rows if source_id not in by_id]
    if orphans:
        raise SourceRegistryError("; ".join(
            f"{SEED} row {source_id!r} has no Source subclass in pipelines/sources/: add its module or remove the row"
            for source_id in orphans))
    for source_id, cls in by_id.items():
        if cls.kind != rows[source_id]["kind"]:
            raise SourceRegistryError(f"source {source_id!r} ({cls.__module__}) has kind {cls.kind!r}, its row in "
                                      f"{SEED} says {rows[source_id]['kind']!r}")
    return {source_id: by_id[source_id]() for source_id in rows}


SOURCES: dict[str, Source] = build_registry(source_classes(), read_seed("sources"))


def get_source(source_id: str) -> Source:
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {', '.join(SOURCES)}") from None
