"""Name tables shared by the metric and loss registries: declare once, resolve aliases,
and read a comma-separated selection (``--metrics``, ``--losses``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def register_name(spec, table: dict, aliases: dict, groups: Mapping, what: str):
    """Add ``spec`` (with ``.name`` and ``.aliases``) to ``table``; every key only once."""
    for key in (spec.name, *spec.aliases):
        if key in aliases or key in groups:
            raise ValueError(f"{what} name {key!r} declared twice")
        aliases[key] = spec.name
    table[spec.name] = spec
    return spec


def did_you_mean(name: str, choices) -> str:
    """' (did you mean dice?)' for a close match among ``choices``, else ''."""
    import difflib

    close = difflib.get_close_matches(name.strip().lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def select_names(text: str, specs: Mapping, groups: Mapping[str, Callable], resolve: Callable) -> tuple[str, ...]:
    """Names chosen by ``text``: names, aliases or group names, comma-separated.

    ``none`` and ``-`` choose nothing; unknown names raise through ``resolve``. Order follows
    ``specs`` (the registry) and duplicates drop.
    """
    chosen: set[str] = set()
    for raw in text.split(","):
        key = raw.strip().lower()
        if not key or key in ("none", "-"):
            continue
        if key in groups:
            chosen.update(n for n, s in specs.items() if groups[key](s))
        else:
            chosen.add(resolve(key).name)
    return tuple(n for n in specs if n in chosen)
