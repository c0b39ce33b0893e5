"""Parsing of compact option values shared by commands: ``gaussian:std=0.01``, ``128,64``, ``p=97``."""

from __future__ import annotations

from typing import Any


def parse_value(text: str) -> Any:
    """``'3'`` -> 3, ``'0.01'`` -> 0.01, ``'true'`` -> True, anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_option_value(text: str) -> Any:
    """A model option's value as a spec would hold it: ``'48'`` -> 48, ``'16,32'`` -> [16, 32],
    ``'gelu'`` -> ``'gelu'``."""
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part.strip()]
    return parse_value(text)


def parse_scheme(text: str, option: str = "--init") -> dict[str, Any]:
    """``'gaussian:std=0.01,mean=0'`` -> ``{'name': 'gaussian', 'std': 0.01, 'mean': 0}``."""
    name, _, rest = text.partition(":")
    if not name.strip():
        raise ValueError(f"{option}: empty scheme name in {text!r}")
    spec: dict[str, Any] = {"name": name.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{option}: expected key=value after the scheme name, got {item!r} in {text!r}")
        spec[key.strip()] = parse_value(value)
    return spec


def parse_sizes(text: str, option: str = "--hidden") -> list[int]:
    """``'128,64'`` -> ``[128, 64]``; ``''`` -> ``[]`` (no hidden layer)."""
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            size = int(item)
        except ValueError:
            raise ValueError(f"{option}: {item!r} is not a whole number (expected e.g. 128,64)") from None
        if size < 1:
            raise ValueError(f"{option}: layer sizes must be >= 1, got {size}")
        sizes.append(size)
    return sizes


def parse_assignments(items: list[str], option: str, *, lists: bool = False) -> dict[str, Any]:
    """``['p=97', 'train_fraction=0.5']`` -> ``{'p': 97, 'train_fraction': 0.5}`` (a repeated option);
    with ``lists``, ``channels=16,32`` -> ``{'channels': [16, 32]}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"{option}: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_option_value(value) if lists else parse_value(value)
    return out
