"""Where a study runs: a spec's ``[execution]`` table (and the flags of ``initopt study run`` that override it).

```toml
[execution]
ray = "auto"           # a Ray cluster: "auto" (the one this machine is part of), "HOST:PORT", or "local"
cpus_per_bundle = 1    # Ray resources each bundle's task asks for
gpus_per_bundle = 1    # default: 1 where the cluster has GPUs, else 0; a fraction shares a GPU
max_retries = 3        # a bundle whose worker or node is lost runs again this many times
```
Without ``ray`` the study runs in its own process, as always. None of these change a configuration's
id or its results: they are not part of the study's stored spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEYS = ("ray", "cpus_per_bundle", "gpus_per_bundle", "max_retries")


@dataclass(frozen=True)
class Execution:
    ray: str | None = None  # None: in this process
    cpus_per_bundle: float = 1.0
    gpus_per_bundle: float | None = None  # None: one where the cluster has GPUs, else none
    max_retries: int = 3

    def with_flags(self, ray: str | None = None, cpus: float | None = None, gpus: float | None = None) -> Execution:
        """These settings with the command line's flags (those given) taking precedence."""
        from dataclasses import replace

        flags = {"ray": ray, "cpus_per_bundle": cpus, "gpus_per_bundle": gpus}
        checked = parse_execution({k: v for k, v in flags.items() if v is not None},
                                  lambda name, text: ValueError(f"{name}: {text}"), name=_flag)
        given = {k: getattr(checked, k) for k, v in (("ray", ray), ("cpus_per_bundle", cpus), ("gpus_per_bundle", gpus))
                 if v is not None}
        return replace(self, **given)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _field(key: str) -> str:
    return f"execution.{key}"


def parse_execution(table: Any, fail, name=_field) -> Execution:
    """``[execution]`` checked: ``fail(field, message)`` makes the error, ``name(key)`` names the field
    (a spec's ``execution.KEY``; the command's flags)."""
    if table is None:
        return Execution()
    if not isinstance(table, Mapping):
        raise fail("execution", f"expected a table, got {table!r}")
    for key in table:
        if key not in KEYS:
            raise fail(name(key), f"unknown field; valid: {', '.join(KEYS)}")
    ray = table.get("ray")
    if ray is not None and (not isinstance(ray, str) or not ray.strip()):
        raise fail(name("ray"), f"expected \"auto\", \"local\" or HOST:PORT of a Ray cluster, got {ray!r}")
    cpus = _number(table.get("cpus_per_bundle"), name("cpus_per_bundle"), fail, low=0.0, default=1.0)
    gpus = _number(table.get("gpus_per_bundle"), name("gpus_per_bundle"), fail, low=0.0, default=None)
    retries = table.get("max_retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise fail(name("max_retries"), f"expected a whole number >= 0, got {retries!r}")
    if cpus == 0 and not gpus:
        raise fail(name("cpus_per_bundle"), "a bundle needs a CPU or a GPU: both are 0")
    return Execution(ray.strip() if ray else None, cpus, gpus, retries)


def _number(value, name: str, fail, *, low: float, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
        raise fail(name, f"expected a number >= {low:g}, got {value!r}")
    return float(value)
