"""Group a study's configurations into bundles that train together.

A bundle shares the architecture (one per study). Its optimizer update is done per family segment:
``sgd`` configurations (one ``nesterov`` setting), then ``adam`` ones (Adam's L2 decay and AdamW's
decoupled decay are per-configuration coefficients of one update; one ``amsgrad`` setting), then
``lion`` ones, then ``schedule_free_adamw`` ones, so one bundle can hold a whole grid of SGD, Adam,
AdamW, Lion and Schedule-Free runs; Muon's (one ``nesterov`` setting) and Adafactor's train in bundles
of their own (``OWN_PARAMETERS``). Inside a family the configurations are
sorted by hyperparameters, so that configurations sharing them are contiguous and the optimizer
updates each run of them in one fused call. Bundles are capped by a memory budget.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from initopt.study.spec import Config

MEMORY_FRACTION = 0.25  # of the free RAM (or GPU memory) one bundle may take
BYTES_PER_FLOAT = 4
STATE_COPIES = 5  # parameter, gradient, two moments, a spare for amsgrad / temporaries


@dataclass(frozen=True)
class Bundle:
    configs: tuple[Config, ...]


def family_of(config: Config) -> tuple:
    """Configurations of equal families share one optimizer segment of a bundle."""
    hyper = config.hyper
    if config.optimizer in ("sgd", "muon"):
        return (config.optimizer, hyper["nesterov"])
    if config.optimizer in ("adam", "adamw"):
        return ("adam", hyper["amsgrad"])
    return (config.optimizer,)


#: Families that share bundles, a segment each, in this order: each updates its configurations' rows
#: element by element (Schedule-Free's switch between y and x too), whatever the layout of the bundle's
#: parameters. The others get bundles of their own.
SHARED = ("sgd", "adam", "lion", "schedule_free_adamw")
#: Families that need each parameter as the model has it (Muon's matrices; Adafactor's second moment
#: factored over each parameter's last two dimensions and its RMS per parameter), not the hand-batched
#: MLP's transposed weights and packed small parameters: a bundle holding one trains the model's own
#: parameters, and bundles of their own keep the others on the hand-batched path.
OWN_PARAMETERS = ("muon", "adafactor")


def _hyper_order(config: Config) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in config.hyper.items())) + ((config.optimizer,),)


def bytes_per_config(n_params: int, activation_floats: int) -> int:
    """A rough upper bound of one configuration's memory inside a bundle."""
    return BYTES_PER_FLOAT * (STATE_COPIES * n_params + activation_floats)


def available_memory(device: str = "cpu") -> int:
    """Free memory of ``device`` in bytes (CUDA: ``mem_get_info``; CPU: MemAvailable)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def bundle_capacity(per_config_bytes: int, budget_bytes: int, max_bundle: int | None = None) -> int:
    """Configurations one bundle holds: as many as fit ``budget_bytes``, at most ``max_bundle``, at least one."""
    cap = max(1, budget_bytes // max(per_config_bytes, 1))
    return cap if max_bundle is None else min(cap, max_bundle)


def by_model(configs: Sequence[Config]) -> list[list[Config]]:
    """``configs`` grouped by their model (``Config.model_axes``: width, depth, parametrization), in order."""
    groups: dict[tuple, list[Config]] = {}
    for config in configs:
        groups.setdefault(tuple(sorted(config.model_axes.items())), []).append(config)
    return list(groups.values())


def plan_bundles(configs: Sequence[Config], *, per_config_bytes: int, budget_bytes: int, max_bundle: int | None = None) -> list[Bundle]:
    """Bundles of at most ``max_bundle`` configs each, each within ``budget_bytes``."""
    cap = bundle_capacity(per_config_bytes, budget_bytes, max_bundle)
    shapes = by_model(configs)  # a bundle holds one model: one width, depth and parametrization
    if len(shapes) > 1:
        return [b for group in shapes for b in plan_bundles(group, per_config_bytes=per_config_bytes,
                                                            budget_bytes=budget_bytes, max_bundle=max_bundle)]
    families: dict[tuple, list[Config]] = {}
    for config in configs:
        families.setdefault(family_of(config), []).append(config)
    shared = [[sorted(m, key=_hyper_order) for key, m in families.items() if key[0] == name] for name in SHARED]
    groups = [[c for runs in shared for c in (runs[i] if i < len(runs) else [])] for i in range(max(map(len, shared)))]
    groups += [sorted(m, key=_hyper_order) for key, m in families.items() if key[0] not in SHARED]
    bundles = []
    for members in groups:
        for start in range(0, len(members), cap):
            bundles.append(Bundle(tuple(members[start : start + cap])))
    return bundles


def bundle_order(configs: Sequence[Config]) -> list[Config]:
    """``configs`` (those of one bundle) in the order ``plan_bundles`` gives them: each optimizer family
    contiguous, equal hyperparameters adjacent."""
    return [c for bundle in plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 62) for c in bundle.configs]
